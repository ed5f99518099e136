// CRC-32C (Castagnoli): the reflected polynomial 0x82F63B78, initial value and final xor
// 0xFFFFFFFF, as iSCSI (RFC 3720), ext4, Btrfs and SSE4.2's crc32 instruction compute it.
// Check value: crc32c("123456789") = 0xE3069283. Checkpoints store one per tensor.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringlm {

// The CRC of `bytes` bytes at `data`.
uint32_t crc32c(const void* data, size_t bytes);
// The CRC of (earlier bytes, then these): crc32c_extend(crc32c(a), b) == crc32c(a + b), and
// crc32c_extend(0, x) == crc32c(x), so a large tensor can be checked piece by piece.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t bytes);
// The same with tables only (slice-by-8). crc32c_extend uses the CPU's CRC-32C instruction
// where the build targets one (SSE4.2 on x86-64 with -march=native, ARMv8 CRC), else this.
uint32_t crc32c_extend_tables(uint32_t crc, const void* data, size_t bytes);

}  // namespace ringlm
