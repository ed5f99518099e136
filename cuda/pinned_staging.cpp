#include "pinned_staging.h"

#include "cuda_check.h"
#include "util/error.h"

#include <algorithm>
#include <cstring>

namespace ringlm {

PinnedStaging::PinnedStaging(cudaStream_t stream, int slots) : stream_(stream), slots_(static_cast<size_t>(slots)) {
    for (Slot& slot : slots_) CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
}

PinnedStaging::~PinnedStaging() {
    for (Slot& slot : slots_) {
        // a DMA may still read the buffer: let it finish before the memory goes
        if (slot.copied) cudaEventSynchronize(slot.copied);
        if (slot.data) cudaFreeHost(slot.data);
        if (slot.copied) cudaEventDestroy(slot.copied);
    }
}

void PinnedStaging::copy_to_device(void* device, const void* host, size_t bytes) {
    if (bytes == 0) return;
    if (bytes > max_bytes) fail("pinned staging: {} bytes exceed the {} bytes a staged copy takes", bytes, max_bytes);
    Slot& slot = slots_[next_];
    next_ = (next_ + 1) % slots_.size();
    // The slot's previous copy must have read its buffer before the buffer is overwritten.
    const cudaError_t state = cudaEventQuery(slot.copied);  // cudaSuccess also when never recorded
    if (state == cudaErrorNotReady) {
        kernels::host_waits++;
        CUDA_CHECK(cudaEventSynchronize(slot.copied));
    } else if (state != cudaSuccess) {
        CUDA_CHECK(state);
    }
    if (bytes > slot.capacity) {
        if (slot.data) CUDA_CHECK(cudaFreeHost(slot.data));
        slot.capacity = std::max<size_t>(bytes, size_t(64) << 10);
        CUDA_CHECK(cudaMallocHost(&slot.data, slot.capacity));
    }
    std::memcpy(slot.data, host, bytes);
    CUDA_CHECK(cudaMemcpyAsync(device, slot.data, bytes, cudaMemcpyHostToDevice, stream_));
    CUDA_CHECK(cudaEventRecord(slot.copied, stream_));
}

}  // namespace ringlm
