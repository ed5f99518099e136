// One exception type for every failure ringlm detects. The message names what failed and
// where (op and shapes, file and key, rank and call); `main` prints it once and aborts all
// ranks. See ../../shared/STYLE.md "Errors say what, where, and what to do".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ringlm {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An error every rank detects identically (a bad config value, a bad world size): rank 0
// prints it once and every rank exits with the same code, without MPI_Abort's noise.
struct UniformError : Error {
    using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail_uniform(fmt::format_string<Args...> format, Args&&... args) {
    throw UniformError(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace ringlm
