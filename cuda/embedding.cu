// Embedding: out[t] = table[ids[t]];  dtable[ids[t]] += dout[t].
// The backward adds each table row's tokens in increasing token order, one block per
// distinct id, grouped by a radix sort on the device (see kernels.h): the same bits every
// run, no float atomics, no host wait.
#include "common.cuh"
#include "kernels.h"

#include <cub/device/device_radix_sort.cuh>

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

// One block per token.
__global__ void embedding_forward_kernel(float* out, const float* table, const int32_t* ids, int64_t C) {
    const int64_t t = blockIdx.x;
    const float* row = table + int64_t(ids[t]) * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[t * C + c] = row[c];
}

__global__ void iota_kernel(int32_t* x, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        x[i] = static_cast<int32_t>(i);
}

// One block per sorted position k. The block at the first position of a run of equal ids adds
// the run's dout rows, tokens in increasing order (the sort is stable), into the id's row; the
// others return at once.
__global__ void embedding_backward_kernel(float* dtable, const float* dout, const uint32_t* sorted_ids,
                                          const int32_t* sorted_tokens, int64_t T, int64_t C) {
    const int64_t k = blockIdx.x;
    const uint32_t id = sorted_ids[k];
    if (k > 0 && sorted_ids[k - 1] == id) return;
    int64_t end = k + 1;
    while (end < T && sorted_ids[end] == id) end++;
    float* row = dtable + int64_t(id) * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0;
        for (int64_t j = k; j < end; j++) acc += dout[int64_t(sorted_tokens[j]) * C + c];
        row[c] += acc;
    }
}

// Bits the radix sort looks at: ids are in [0, V), so the lowest ceil(log2 V) bits order them.
int id_bits(int64_t V) {
    int bits = 1;
    while ((int64_t(1) << bits) < V) bits++;
    return bits;
}

size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

size_t sort_bytes(int64_t T, int64_t V) {
    size_t bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, static_cast<const uint32_t*>(nullptr),
                                               static_cast<uint32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
                                               static_cast<int32_t*>(nullptr), static_cast<int>(T), 0, id_bits(V)));
    return bytes;
}

}  // namespace

void embedding_forward(float* out, const float* table, const int32_t* ids, int64_t T, int64_t C, cudaStream_t stream) {
    if (T == 0) return;
    embedding_forward_kernel<<<static_cast<unsigned>(T), threads, 0, stream>>>(out, table, ids, C);
    CUDA_CHECK_LAUNCH("embedding_forward_kernel");
}

int64_t embedding_backward_scratch_bytes(int64_t T, int64_t V) {
    return static_cast<int64_t>(3 * aligned(4 * size_t(T)) + sort_bytes(T, V));
}

void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t T, int64_t V, int64_t C,
                        void* scratch, cudaStream_t stream) {
    if (T == 0) return;
    // scratch: sorted ids, token indices, sorted token indices, the sort's own temporary space
    char* base = static_cast<char*>(scratch);
    const size_t slice = aligned(4 * size_t(T));
    uint32_t* sorted_ids = reinterpret_cast<uint32_t*>(base);
    int32_t* tokens = reinterpret_cast<int32_t*>(base + slice);
    int32_t* sorted_tokens = reinterpret_cast<int32_t*>(base + 2 * slice);
    size_t temporary_bytes = sort_bytes(T, V);
    iota_kernel<<<grid_for(T, threads), threads, 0, stream>>>(tokens, T);
    CUDA_CHECK_LAUNCH("iota_kernel");
    // ids >= 0, so their bits read as unsigned order them the same
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(base + 3 * slice, temporary_bytes, reinterpret_cast<const uint32_t*>(ids),
                                               sorted_ids, tokens, sorted_tokens, static_cast<int>(T), 0, id_bits(V),
                                               stream));
    embedding_backward_kernel<<<static_cast<unsigned>(T), threads, 0, stream>>>(dtable, dout, sorted_ids,
                                                                                sorted_tokens, T, C);
    CUDA_CHECK_LAUNCH("embedding_backward_kernel");
}

}  // namespace ringlm::kernels
