// Device memory for Device::cuda tensors: plain cudaMalloc (never managed memory) behind the
// caching allocator of src/tensor/allocator.h, so steady-state training calls cudaMalloc only
// in its first step. Every kernel runs on the backend's one compute stream, so a block freed
// by one tensor and handed to the next is reused in stream order, with no extra sync.
#pragma once

#include "tensor/allocator.h"

#include <cuda_runtime.h>

#include <string>
#include <utility>

namespace ringlm {

class CudaAllocator final : public Allocator {
public:
    explicit CudaAllocator(cudaStream_t stream) : stream_(stream) {}
    ~CudaAllocator() override;
    void set_zero(void* pointer, size_t bytes) override;  // cudaMemsetAsync on the compute stream

protected:
    void* system_allocate(size_t bytes) override;
    void system_release(void* pointer) override;

private:
    cudaStream_t stream_;
};

// Page-locked host memory (cudaMallocHost) for offloaded activations and for the MPI
// transport's staging (one allocator each): the DMA reads and writes it at full speed, for
// offloads in stream order while the host goes on. Cached like the rest, so a step reuses the
// previous step's blocks; an offload block handed out again is written only by a copy queued
// after the restore that read it. `use` says, when cudaMallocHost fails, what needs the memory.
class PinnedHostAllocator final : public Allocator {
public:
    explicit PinnedHostAllocator(std::string use) : use_(std::move(use)) {}
    ~PinnedHostAllocator() override;
    void set_zero(void* pointer, size_t bytes) override;

protected:
    void* system_allocate(size_t bytes) override;
    void system_release(void* pointer) override;

private:
    std::string use_;
};

}  // namespace ringlm
