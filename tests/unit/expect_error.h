// A check the op tests share: bad input throws ringlm::Error, and the message starts with the
// op's name, so a user reading it knows which call to look at.
#pragma once

#include "util/error.h"

#include <gtest/gtest.h>

#include <string>

namespace ringlm::testing {

template <typename Body>
void expect_error_naming(const std::string& op, Body&& body) {
    try {
        body();
        ADD_FAILURE() << op << ": bad input was accepted";
    } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.rfind(op + ":", 0), 0u) << "the message does not start with '" << op << ":': " << message;
    }
}

}  // namespace ringlm::testing
