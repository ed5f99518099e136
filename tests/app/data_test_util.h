// Helpers of the data tests: a temporary folder removed at the end, and a check that an Error's
// message is one line naming every expected piece.
#pragma once

#include "util/error.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace ringlm::testing {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        static std::atomic<int> counter{0};
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        path = std::filesystem::temp_directory_path() /
               fmt::format("ringlm_{}_{}_{}_{}", test ? test->test_suite_name() : "test", test ? test->name() : "",
                           ::getpid(), counter++);
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
    // Writes `content` to `name` (parent folders created) and returns its path.
    std::string write(const std::string& name, const std::string& content) const {
        const std::filesystem::path target = path / name;
        std::filesystem::create_directories(target.parent_path());
        std::ofstream(target, std::ios::binary) << content;
        return target.string();
    }
};

// `action` must throw ringlm::Error whose message is one line containing every piece.
inline void expect_error_mentions(const std::function<void()>& action, const std::vector<std::string>& pieces) {
    try {
        action();
    } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
        for (const std::string& piece : pieces)
            EXPECT_NE(message.find(piece), std::string::npos) << "'" << piece << "' missing from: " << message;
        return;
    }
    ADD_FAILURE() << "no ringlm::Error thrown (expected one mentioning '" << (pieces.empty() ? "" : pieces[0]) << "')";
}

}  // namespace ringlm::testing
