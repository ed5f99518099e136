// Where the app tests find data/ and tests/reference/, and temporary files they clean up.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace ringlm::testing {

// ctest sets RINGLM_SOURCE_DIR; run by hand, the binary is found from the source root
// (build/tests/app_tests) or from build/tests (`../..`).
inline std::string source_path(const std::string& relative) {
    if (const char* root = std::getenv("RINGLM_SOURCE_DIR")) return std::string(root) + "/" + relative;
    for (const char* root : {".", "../..", ".."})
        if (std::filesystem::exists(std::string(root) + "/" + relative)) return std::string(root) + "/" + relative;
    return relative;
}

// A file in the temporary directory, unique to this process, removed when it goes out of scope.
struct TemporaryFile {
    std::string path;
    explicit TemporaryFile(const std::string& name)
        : path((std::filesystem::temp_directory_path() / ("ringlm_" + std::to_string(getpid()) + "_" + name)).string()) {}
    ~TemporaryFile() { std::filesystem::remove(path); }
    TemporaryFile(const TemporaryFile&) = delete;
    TemporaryFile& operator=(const TemporaryFile&) = delete;
};

// A file's bytes, whole (an unreadable file fails the test and gives "").
inline std::string read_file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

inline void write_file_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

}  // namespace ringlm::testing
