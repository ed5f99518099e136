// SHA-256 against the FIPS 180-4 examples and against coreutils' sha256sum (an independent
// implementation) on fresh random bytes of every tail length around the 55/56/64-byte padding
// boundaries.
#include "util/sha256.h"

#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>

namespace ringlm {
namespace {

TEST(Sha256, FipsExamples) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

std::string sha256sum(const std::string& bytes) {
    const std::string path = ::testing::TempDir() + "ringlm_sha256_test.bin";
    std::ofstream(path, std::ios::binary) << bytes;
    std::FILE* pipe = popen(("sha256sum " + path).c_str(), "r");
    char hex[65] = {};
    const size_t got = pipe ? std::fread(hex, 1, 64, pipe) : 0;
    if (pipe) pclose(pipe);
    std::remove(path.c_str());
    return std::string(hex, got);
}

TEST(Sha256, MatchesSha256sumOnRandomBytes) {
    const uint64_t seed = testing::fresh_seed();
    std::mt19937_64 rng(seed);
    for (size_t size : {1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 70000}) {
        std::string bytes(size, '\0');
        for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
        EXPECT_EQ(sha256_hex(bytes), sha256sum(bytes)) << size << " bytes, seed " << seed;
    }
}

}  // namespace
}  // namespace ringlm
