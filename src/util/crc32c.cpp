#include "util/crc32c.h"

#include <array>
#include <cstring>

#if defined(__SSE4_2__) && defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#endif

namespace ringlm {

namespace {

// Slice-by-8 (Kounavis & Berry, "A Systematic Approach to Building High Performance
// Software-based CRC Generators", 2005): table[k][b] is the CRC contribution of byte b
// followed by k zero bytes, so 8 input bytes fold into the CRC with 8 lookups.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

Tables make_tables() {
    constexpr uint32_t polynomial = 0x82F63B78;  // 0x1EDC6F41 bit-reversed
    Tables tables{};
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t crc = b;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (polynomial & (0u - (crc & 1)));
        tables[0][b] = crc;
    }
    for (uint32_t b = 0; b < 256; b++)
        for (int k = 1; k < 8; k++) tables[k][b] = (tables[k - 1][b] >> 8) ^ tables[0][tables[k - 1][b] & 0xFF];
    return tables;
}

const Tables& tables() {
    static const Tables built = make_tables();
    return built;
}

}  // namespace

uint32_t crc32c_extend_tables(uint32_t crc, const void* data, size_t bytes) {
    const Tables& t = tables();
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (; bytes >= 8; bytes -= 8, p += 8) {
        // Little-endian byte order: the first byte meets the CRC's low byte.
        uint32_t low = 0, high = 0;
        std::memcpy(&low, p, 4);
        std::memcpy(&high, p + 4, 4);
        low ^= crc;
        crc = t[7][low & 0xFF] ^ t[6][(low >> 8) & 0xFF] ^ t[5][(low >> 16) & 0xFF] ^ t[4][low >> 24] ^
              t[3][high & 0xFF] ^ t[2][(high >> 8) & 0xFF] ^ t[1][(high >> 16) & 0xFF] ^ t[0][high >> 24];
    }
    for (; bytes > 0; bytes--, p++) crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xFF];
    return ~crc;
}

uint32_t crc32c_extend(uint32_t crc, const void* data, size_t bytes) {
#if defined(__SSE4_2__) && defined(__x86_64__) || defined(__ARM_FEATURE_CRC32)
    // The instruction folds 8 bytes into the (uncomplemented) CRC in one step.
    const auto* p = static_cast<const unsigned char*>(data);
    uint64_t state = ~crc;
    for (; bytes >= 8; bytes -= 8, p += 8) {
        uint64_t word = 0;
        std::memcpy(&word, p, 8);
#if defined(__SSE4_2__) && defined(__x86_64__)
        state = _mm_crc32_u64(state, word);
#else
        state = __crc32cd(static_cast<uint32_t>(state), word);
#endif
    }
    return crc32c_extend_tables(~static_cast<uint32_t>(state), p, bytes);
#else
    return crc32c_extend_tables(crc, data, bytes);
#endif
}

uint32_t crc32c(const void* data, size_t bytes) { return crc32c_extend(0, data, bytes); }

}  // namespace ringlm
