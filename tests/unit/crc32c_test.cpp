// CRC-32C against published check values and a bitwise reference that shares no code (or
// tables) with the slice-by-8 implementation, on random buffers split at random points.
#include "util/crc32c.h"

#include "test_util.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringlm {
namespace {

// One bit at a time, straight from the definition (reflected CRC, polynomial 0x82F63B78).
uint32_t crc32c_bitwise(const std::vector<unsigned char>& bytes) {
    uint32_t crc = 0xFFFFFFFF;
    for (unsigned char byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
    }
    return crc ^ 0xFFFFFFFF;
}

TEST(Crc32c, CheckValues) {
    const std::string digits = "123456789";
    EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);  // the catalogue's check value
    EXPECT_EQ(crc32c(nullptr, 0), 0u);
    // RFC 3720 (iSCSI) appendix B.4: 32 bytes of zeros, of ones, ascending, descending.
    std::vector<unsigned char> zeros(32, 0), ones(32, 0xFF), ascending(32), descending(32);
    for (int i = 0; i < 32; i++) {
        ascending[i] = static_cast<unsigned char>(i);
        descending[i] = static_cast<unsigned char>(31 - i);
    }
    EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);
    EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
    EXPECT_EQ(crc32c(ascending.data(), 32), 0x46DD794Eu);
    EXPECT_EQ(crc32c(descending.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, MatchesBitwiseReferenceInPieces) {
    const uint64_t seed = testing::fresh_seed();
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 200; trial++) {
        // Lengths around the 8-byte stride, and some long ones; odd start offsets too.
        const size_t length = trial < 40 ? trial : std::uniform_int_distribution<size_t>(0, 5000)(rng);
        const size_t start = std::uniform_int_distribution<size_t>(0, 7)(rng);
        std::vector<unsigned char> storage(start + length);
        for (auto& byte : storage) byte = static_cast<unsigned char>(rng());
        const std::vector<unsigned char> bytes(storage.begin() + static_cast<std::ptrdiff_t>(start), storage.end());
        const uint32_t expected = crc32c_bitwise(bytes);
        ASSERT_EQ(crc32c(storage.data() + start, length), expected) << "length " << length << ", seed " << seed;
        const size_t split = std::uniform_int_distribution<size_t>(0, length)(rng);
        const uint32_t pieces = crc32c_extend(crc32c(storage.data() + start, split), storage.data() + start + split,
                                              length - split);
        ASSERT_EQ(pieces, expected) << "length " << length << " split at " << split << ", seed " << seed;
        // The table path too, where crc32c_extend uses the CPU's instruction.
        const uint32_t tables = crc32c_extend_tables(crc32c_extend_tables(0, storage.data() + start, split),
                                                     storage.data() + start + split, length - split);
        ASSERT_EQ(tables, expected) << "tables, length " << length << " split at " << split << ", seed " << seed;
    }
}

TEST(Crc32c, EveryFlippedBitChangesIt) {
    std::vector<unsigned char> bytes(1000);
    for (size_t i = 0; i < bytes.size(); i++) bytes[i] = static_cast<unsigned char>(i * 7 + 3);
    const uint32_t clean = crc32c(bytes.data(), bytes.size());
    for (size_t i = 0; i < bytes.size(); i++)
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= static_cast<unsigned char>(1 << bit);
            ASSERT_NE(crc32c(bytes.data(), bytes.size()), clean) << "byte " << i << " bit " << bit;
            bytes[i] ^= static_cast<unsigned char>(1 << bit);
        }
}

}  // namespace
}  // namespace ringlm
