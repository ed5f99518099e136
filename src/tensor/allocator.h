// A caching allocator: freed blocks go to a free list keyed by their (rounded) size and are
// handed out again, so a training step that makes the same tensors every step calls the
// system allocator only during the first step. It also keeps the figures the metrics report
// (bytes in use, peak, system allocations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace ringlm {

struct AllocatorStats {
    size_t bytes_in_use = 0;        // handed out to live tensors
    size_t peak_bytes_in_use = 0;   // maximum of bytes_in_use since the last reset_peak()
    size_t bytes_reserved = 0;      // in use + cached in free lists
    uint64_t system_allocations = 0;  // calls to the underlying allocator (malloc / cudaMalloc)
};

class Allocator {
public:
    virtual ~Allocator();
    void* allocate(size_t bytes);
    void release(void* pointer, size_t bytes);
    AllocatorStats stats() const;
    void reset_peak();
    void release_cached();  // give cached blocks back to the system
    virtual void set_zero(void* pointer, size_t bytes) = 0;  // memset / cudaMemsetAsync

protected:
    virtual void* system_allocate(size_t bytes) = 0;
    virtual void system_release(void* pointer) = 0;

private:
    static size_t round_up(size_t bytes);
    void release_cached_locked();  // release_cached with mutex_ held
    mutable std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> free_blocks_;
    AllocatorStats stats_;
};

// 64-byte aligned host memory (a cache line, and what AVX-512 loads want).
class CpuAllocator final : public Allocator {
public:
    ~CpuAllocator() override;
    void set_zero(void* pointer, size_t bytes) override;

protected:
    void* system_allocate(size_t bytes) override;
    void system_release(void* pointer) override;
};

Allocator& cpu_allocator();

}  // namespace ringlm
