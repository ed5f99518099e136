#include "tensor/allocator.h"

#include "util/error.h"

#include <cstdlib>
#include <cstring>

namespace ringlm {

Allocator::~Allocator() = default;

// Blocks are rounded to 256 B below 1 MiB and to 64 KiB above, so tensors whose sizes differ
// slightly (a last partial chunk) still share cached blocks.
size_t Allocator::round_up(size_t bytes) {
    const size_t granule = bytes < (size_t{1} << 20) ? 256 : 65536;
    return (bytes + granule - 1) / granule * granule;
}

void* Allocator::allocate(size_t bytes) {
    bytes = round_up(bytes == 0 ? 1 : bytes);
    std::lock_guard lock(mutex_);
    void* pointer = nullptr;
    auto cached = free_blocks_.find(bytes);
    if (cached != free_blocks_.end() && !cached->second.empty()) {
        pointer = cached->second.back();
        cached->second.pop_back();
    } else {
        try {
            pointer = system_allocate(bytes);
        } catch (const Error&) {
            // Out of memory while blocks of other sizes sit in the cache (a longer sequence
            // than the steps before, say): give them all back and ask once more.
            release_cached_locked();
            pointer = system_allocate(bytes);
        }
        stats_.system_allocations++;
        stats_.bytes_reserved += bytes;
    }
    stats_.bytes_in_use += bytes;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return pointer;
}

void Allocator::release(void* pointer, size_t bytes) {
    bytes = round_up(bytes == 0 ? 1 : bytes);
    std::lock_guard lock(mutex_);
    free_blocks_[bytes].push_back(pointer);
    stats_.bytes_in_use -= bytes;
}

AllocatorStats Allocator::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

void Allocator::reset_peak() {
    std::lock_guard lock(mutex_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void Allocator::release_cached() {
    std::lock_guard lock(mutex_);
    release_cached_locked();
}

void Allocator::release_cached_locked() {
    for (auto& [bytes, blocks] : free_blocks_) {
        for (void* pointer : blocks) system_release(pointer);
        stats_.bytes_reserved -= bytes * blocks.size();
        blocks.clear();
    }
}

CpuAllocator::~CpuAllocator() { release_cached(); }

void* CpuAllocator::system_allocate(size_t bytes) {
    void* pointer = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!pointer) fail("cpu allocator: out of host memory allocating {} bytes", bytes);
    return pointer;
}

void CpuAllocator::set_zero(void* pointer, size_t bytes) { std::memset(pointer, 0, bytes); }

void CpuAllocator::system_release(void* pointer) { std::free(pointer); }

Allocator& cpu_allocator() {
    static CpuAllocator allocator;
    return allocator;
}

}  // namespace ringlm
