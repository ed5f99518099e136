// Host -> device copies without a host wait. cudaMemcpyAsync from ordinary (pageable) host
// memory may return before the DMA has read the data, and the caller may free or reuse it
// right after, so a copy from pageable memory has to wait for the stream: five waits per micro
// batch (the batch's ids, labels, positions, global indices and segments). Through staging the
// bytes are first copied on the host into a page-locked buffer, the DMA from there is queued in
// stream order and the host goes on. Each buffer is reused once the copy that read it has
// finished (an event); with `slots` buffers in rotation the host waits only when the GPU is
// that many small copies behind, and that wait is counted as one (kernels::host_waits).
// Copies above `max_bytes` (model weights) keep the waiting path: they are rare and large.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

namespace ringlm {

class PinnedStaging {
public:
    static constexpr size_t max_bytes = size_t(4) << 20;  // 1M i32 tokens per rank and tensor

    PinnedStaging(cudaStream_t stream, int slots);
    ~PinnedStaging();
    PinnedStaging(const PinnedStaging&) = delete;
    PinnedStaging& operator=(const PinnedStaging&) = delete;

    // Queues device <- host (bytes <= max_bytes) on the stream; `host` may change once this returns.
    void copy_to_device(void* device, const void* host, size_t bytes);

private:
    struct Slot {
        void* data = nullptr;  // page-locked, cudaMallocHost
        size_t capacity = 0;
        cudaEvent_t copied = nullptr;  // recorded after the DMA that read `data`
    };
    cudaStream_t stream_;
    std::vector<Slot> slots_;
    size_t next_ = 0;
};

}  // namespace ringlm
