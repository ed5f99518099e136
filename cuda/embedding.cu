// Embedding: out[t] = table[ids[t]];  dtable[ids[t]] += dout[t].
// The backward adds each table row's tokens in increasing token order, one block per
// distinct id (the grouping is made on the host, see kernels.h): the same bits every run,
// no float atomics.
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

// One block per token.
__global__ void embedding_forward_kernel(float* out, const float* table, const int32_t* ids, int64_t C) {
    const int64_t t = blockIdx.x;
    const float* row = table + int64_t(ids[t]) * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) out[t * C + c] = row[c];
}

// One block per distinct id u: dtable[unique_ids[u]] += sum over its tokens of dout[token].
__global__ void embedding_backward_kernel(float* dtable, const float* dout, const int32_t* unique_ids,
                                          const int32_t* offsets, const int32_t* tokens_by_id, int64_t C) {
    const int64_t u = blockIdx.x;
    float* row = dtable + int64_t(unique_ids[u]) * C;
    const int32_t begin = offsets[u], end = offsets[u + 1];
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0;
        for (int32_t k = begin; k < end; k++) acc += dout[int64_t(tokens_by_id[k]) * C + c];
        row[c] += acc;
    }
}

}  // namespace

void embedding_forward(float* out, const float* table, const int32_t* ids, int64_t T, int64_t C, cudaStream_t stream) {
    if (T == 0) return;
    embedding_forward_kernel<<<static_cast<unsigned>(T), threads, 0, stream>>>(out, table, ids, C);
    CUDA_CHECK_LAUNCH("embedding_forward_kernel");
}

void embedding_backward(float* dtable, const float* dout, const int32_t* unique_ids, const int32_t* offsets,
                        const int32_t* tokens_by_id, int64_t unique_count, int64_t C, cudaStream_t stream) {
    if (unique_count == 0) return;
    embedding_backward_kernel<<<static_cast<unsigned>(unique_count), threads, 0, stream>>>(
        dtable, dout, unique_ids, offsets, tokens_by_id, C);
    CUDA_CHECK_LAUNCH("embedding_backward_kernel");
}

}  // namespace ringlm::kernels
