#include "cuda_allocator.h"

#include "cuda_check.h"
#include "util/error.h"

#include <cstring>

namespace ringlm {

CudaAllocator::~CudaAllocator() { release_cached(); }

void* CudaAllocator::system_allocate(size_t bytes) {
    void* pointer = nullptr;
    const cudaError_t status = cudaMalloc(&pointer, bytes);
    if (status != cudaSuccess) {
        size_t free_bytes = 0, total_bytes = 0;
        cudaGetLastError();  // clear the sticky out-of-memory error before asking for the figures
        cudaMemGetInfo(&free_bytes, &total_bytes);
        fail("cuda allocator: cudaMalloc of {} bytes failed ({}); the device has {} of {} bytes free "
             "(use a smaller micro_batch_size or sequence_len, or more sequence-parallel ranks)",
             bytes, cudaGetErrorString(status), free_bytes, total_bytes);
    }
    return pointer;
}

void CudaAllocator::system_release(void* pointer) {
    // Called from the destructor at exit too, when the runtime may already be shutting down:
    // an error here cannot be acted on, so it is not thrown.
    cudaFree(pointer);
}

void CudaAllocator::set_zero(void* pointer, size_t bytes) { CUDA_CHECK(cudaMemsetAsync(pointer, 0, bytes, stream_)); }

PinnedHostAllocator::~PinnedHostAllocator() { release_cached(); }

void* PinnedHostAllocator::system_allocate(size_t bytes) {
    void* pointer = nullptr;
    const cudaError_t status = cudaMallocHost(&pointer, bytes);
    if (status != cudaSuccess) {
        cudaGetLastError();
        fail("cuda pinned host allocator: cudaMallocHost of {} bytes of page-locked host memory failed ({}); {}",
             bytes, cudaGetErrorString(status), use_);
    }
    return pointer;
}

// A cached block may still be read or written by a queued copy (a restore just queued, its
// tensor already released): let the device finish first. Rare: the allocator's retry and exit.
void PinnedHostAllocator::system_release(void* pointer) {
    cudaDeviceSynchronize();
    cudaFreeHost(pointer);
}

void PinnedHostAllocator::set_zero(void* pointer, size_t bytes) { std::memset(pointer, 0, bytes); }

}  // namespace ringlm
