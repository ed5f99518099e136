// The caching allocator: blocks are reused, a repeated step allocates nothing new from the
// system, and the figures the metrics report (in use, peak, reserved) add up.
#include "tensor/allocator.h"
#include "tensor/tensor.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace ringlm {

namespace {
constexpr size_t KiB = 1024, MiB = 1024 * 1024;

// A device of `capacity` bytes: the system refuses what does not fit, as cudaMalloc does.
class SmallDevice final : public Allocator {
public:
    explicit SmallDevice(size_t capacity) : capacity_(capacity) {}
    ~SmallDevice() override { release_cached(); }
    void set_zero(void* pointer, size_t bytes) override { std::memset(pointer, 0, bytes); }
    size_t held = 0;

protected:
    void* system_allocate(size_t bytes) override {
        if (held + bytes > capacity_) fail("small device: {} bytes do not fit ({} held of {})", bytes, held, capacity_);
        held += bytes;
        sizes_[pointer_ = std::malloc(bytes)] = bytes;
        return pointer_;
    }
    void system_release(void* pointer) override {
        held -= sizes_.at(pointer);
        sizes_.erase(pointer);
        std::free(pointer);
    }

private:
    size_t capacity_;
    void* pointer_ = nullptr;
    std::map<void*, size_t> sizes_;
};
}  // namespace

// Out of memory with blocks of other sizes cached (a step at a longer sequence after shorter
// ones): the cache is given back and the request asked once more; when even that does not fit,
// the system's error comes through.
TEST(Allocator, FreesTheCacheBeforeRunningOutOfMemory) {
    SmallDevice device(4 * MiB);
    void* a = device.allocate(MiB);
    void* b = device.allocate(2 * MiB);
    device.release(a, MiB);
    device.release(b, 2 * MiB);  // 3 MiB cached, 1 MiB free
    void* big = device.allocate(3 * MiB + 64 * KiB);  // fits only once the cache is gone
    EXPECT_EQ(device.stats().bytes_reserved, 3 * MiB + 64 * KiB);
    EXPECT_EQ(device.held, 3 * MiB + 64 * KiB);
    EXPECT_THROW(device.allocate(2 * MiB), Error);  // 3 MiB + 64 KiB in use: no cache to free
    device.release(big, 3 * MiB + 64 * KiB);
}

// A private allocator, so the figures are exactly this test's.
TEST(Allocator, ReusesFreedBlocksAndCountsBytes) {
    CpuAllocator allocator;
    void* first = allocator.allocate(1000);  // rounds to 1024 (256 B granules below 1 MiB)
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    AllocatorStats stats = allocator.stats();
    EXPECT_EQ(stats.system_allocations, 1u);
    EXPECT_EQ(stats.bytes_in_use, 1024u);
    EXPECT_EQ(stats.bytes_reserved, 1024u);
    allocator.release(first, 1000);
    stats = allocator.stats();
    EXPECT_EQ(stats.bytes_in_use, 0u);
    EXPECT_EQ(stats.bytes_reserved, 1024u);  // cached, not returned

    // a request that rounds to the same block size gets the cached block back
    void* again = allocator.allocate(900);
    EXPECT_EQ(again, first);
    EXPECT_EQ(allocator.stats().system_allocations, 1u);
    // another size class goes to the system
    void* other = allocator.allocate(MiB + 1);  // rounds to 1 MiB + 64 KiB
    stats = allocator.stats();
    EXPECT_EQ(stats.system_allocations, 2u);
    EXPECT_EQ(stats.bytes_in_use, 1024u + MiB + 64 * KiB);
    allocator.release(again, 900);
    allocator.release(other, MiB + 1);

    allocator.release_cached();
    stats = allocator.stats();
    EXPECT_EQ(stats.bytes_in_use, 0u);
    EXPECT_EQ(stats.bytes_reserved, 0u);
    void* fresh = allocator.allocate(1000);  // after release_cached the system is asked again
    EXPECT_EQ(allocator.stats().system_allocations, 3u);
    allocator.release(fresh, 1000);  // back to the cache, which the destructor frees
}

TEST(Allocator, PeakTracksTheMaximumSinceReset) {
    CpuAllocator allocator;
    void* a = allocator.allocate(4 * KiB);
    void* b = allocator.allocate(8 * KiB);
    allocator.release(a, 4 * KiB);
    void* c = allocator.allocate(2 * KiB);
    AllocatorStats stats = allocator.stats();
    EXPECT_EQ(stats.bytes_in_use, 10 * KiB);
    EXPECT_EQ(stats.peak_bytes_in_use, 12 * KiB);  // a and b together
    allocator.reset_peak();
    EXPECT_EQ(allocator.stats().peak_bytes_in_use, 10 * KiB);
    allocator.release(b, 8 * KiB);
    EXPECT_EQ(allocator.stats().peak_bytes_in_use, 10 * KiB);  // freeing never raises it
    void* d = allocator.allocate(16 * KiB);
    EXPECT_EQ(allocator.stats().peak_bytes_in_use, 18 * KiB);
    allocator.release(c, 2 * KiB);
    allocator.release(d, 16 * KiB);
    EXPECT_EQ(allocator.stats().bytes_in_use, 0u);
}

TEST(Allocator, LiveBlocksAreDistinct) {
    CpuAllocator allocator;
    std::set<void*> live;
    for (int i = 0; i < 16; i++) live.insert(allocator.allocate(512));
    EXPECT_EQ(live.size(), 16u);
    for (void* pointer : live) allocator.release(pointer, 512);
}

// What a training step does: the same tensors in the same order, some alive together, some
// freed mid-way, sizes on both sides of the 1 MiB granule switch, a last partial chunk.
// The first step may allocate; the second must be served entirely from the cache.
TEST(Allocator, RepeatedStepMakesNoSystemAllocation) {
    auto step = [] {
        Tensor weights = empty({512, 1024});        // 2 MiB
        Tensor activations = empty({300, 128});     // 150 KiB
        Tensor scratch;
        for (int chunk = 0; chunk < 3; chunk++) {
            scratch = empty({chunk < 2 ? 256 : 77, 1000});  // the last chunk is shorter
            Tensor small = empty({17}, DType::i32);
        }
        Tensor gradient = zeros({512, 1024});
        activations = Tensor{};  // freed before the step ends, then made again
        Tensor logits = empty({64, 4096}, DType::f64);
        Tensor ids = empty({64}, DType::i32);
    };
    Allocator& allocator = cpu_allocator();
    const size_t in_use_before = allocator.stats().bytes_in_use;
    step();
    const AllocatorStats after_first = allocator.stats();
    EXPECT_EQ(after_first.bytes_in_use, in_use_before);
    allocator.reset_peak();
    step();
    const AllocatorStats after_second = allocator.stats();
    EXPECT_EQ(after_second.system_allocations, after_first.system_allocations);
    EXPECT_EQ(after_second.bytes_reserved, after_first.bytes_reserved);
    EXPECT_EQ(after_second.bytes_in_use, in_use_before);
    // the step's peak: weights, gradient and logits alive together at the end, plus
    // activations/scratch earlier; at least the three big ones
    EXPECT_GE(after_second.peak_bytes_in_use - in_use_before, 2 * 2 * MiB + 64 * 4096 * 8);
}

TEST(Allocator, TensorsReturnTheirBytes) {
    Allocator& allocator = cpu_allocator();
    const size_t before = allocator.stats().bytes_in_use;
    {
        Tensor x = empty({100, 10});  // 4000 B, rounded to 4096
        EXPECT_EQ(allocator.stats().bytes_in_use - before, 4096u);
        Tensor view = x.view({1000});
        Tensor rows = x.rows(10, 20);
        x = Tensor{};
        // views keep the storage alive, and cost nothing themselves
        EXPECT_EQ(allocator.stats().bytes_in_use - before, 4096u);
    }
    EXPECT_EQ(allocator.stats().bytes_in_use, before);
}

}  // namespace ringlm
