// Cross-entropy on one chunk of logits [rows, V], labels i32 [rows]:
//   lse[r] = log sum_v exp(logits[r, v]),  losses[r] = lse[r] - logits[r, label[r]]
// and 0 (lse too) where label[r] == -100;
//   dlogits[r] = dlosses[r] * (softmax(logits[r]) - onehot(label[r])), 0 for ignored rows.
// One block per row. The backward OVERWRITES dlogits, which may alias logits: each element is
// read and then written by the same thread.
#include "backend/labels.h"
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 512;

__global__ void cross_entropy_forward_kernel(float* losses, float* lse, const float* logits, const int32_t* labels,
                                             int64_t V) {
    __shared__ float shared_max[32];
    __shared__ double shared_sum[32];
    const int64_t row = blockIdx.x;
    const int32_t label = labels[row];
    if (label == ignore_label) {
        if (threadIdx.x == 0) losses[row] = 0, lse[row] = 0;
        return;
    }
    const float* logits_row = logits + row * V;
    float row_max = -INFINITY;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) row_max = fmaxf(row_max, logits_row[v]);
    row_max = block_max(row_max, shared_max);
    // sum exp(logits - max) in double: V float terms would lose about log2(V) bits
    double sum_exp = 0;
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) sum_exp += double(expf(logits_row[v] - row_max));
    sum_exp = block_sum(sum_exp, shared_sum);
    if (threadIdx.x == 0) {
        const double log_sum_exp = log(sum_exp);
        lse[row] = float(double(row_max) + log_sum_exp);
        // loss = (max - logits[label]) + log sum: the difference of two floats is exact in
        // double, so a confident token's small loss keeps its digits
        losses[row] = float((double(row_max) - double(logits_row[label])) + log_sum_exp);
    }
}

__global__ void cross_entropy_backward_kernel(float* dlogits, const float* logits, const float* lse,
                                              const int32_t* labels, const float* dlosses, int64_t V) {
    const int64_t row = blockIdx.x;
    const int32_t label = labels[row];
    float* dlogits_row = dlogits + row * V;
    const float* logits_row = logits + row * V;
    if (label == ignore_label) {
        for (int64_t v = threadIdx.x; v < V; v += blockDim.x) dlogits_row[v] = 0;
        return;
    }
    const float row_lse = lse[row], dloss = dlosses[row];
    for (int64_t v = threadIdx.x; v < V; v += blockDim.x) {
        const float probability = expf(logits_row[v] - row_lse);
        dlogits_row[v] = dloss * (probability - (v == label ? 1.0f : 0.0f));
    }
}

}  // namespace

void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* labels, int64_t rows,
                           int64_t V, cudaStream_t stream) {
    if (rows == 0) return;
    cross_entropy_forward_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(losses, lse, logits, labels, V);
    CUDA_CHECK_LAUNCH("cross_entropy_forward_kernel");
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* labels,
                            const float* dlosses, int64_t rows, int64_t V, cudaStream_t stream) {
    if (rows == 0) return;
    cross_entropy_backward_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(dlogits, logits, lse, labels,
                                                                                       dlosses, V);
    CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
}

}  // namespace ringlm::kernels
