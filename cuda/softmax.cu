// Softmax over the last dimension: y = exp(x - max) / sum exp(x - max);
// backward dx += y * (dy - sum(dy * y)).  One block per row.
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

__global__ void softmax_forward_kernel(float* y, const float* x, int64_t C) {
    __shared__ float shared[32];
    const float* x_row = x + blockIdx.x * C;
    float* y_row = y + blockIdx.x * C;
    float row_max = -INFINITY;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) row_max = fmaxf(row_max, x_row[c]);
    row_max = block_max(row_max, shared);
    float total = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) total += expf(x_row[c] - row_max);
    total = block_sum(total, shared);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y_row[c] = expf(x_row[c] - row_max) / total;
}

__global__ void softmax_backward_kernel(float* dx, const float* dy, const float* y, int64_t C) {
    __shared__ float shared[32];
    const int64_t offset = blockIdx.x * C;
    float dot = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dot += dy[offset + c] * y[offset + c];
    dot = block_sum(dot, shared);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) dx[offset + c] += y[offset + c] * (dy[offset + c] - dot);
}

}  // namespace

void softmax_forward(float* y, const float* x, int64_t rows, int64_t C, cudaStream_t stream) {
    if (rows == 0) return;
    softmax_forward_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(y, x, C);
    CUDA_CHECK_LAUNCH("softmax_forward_kernel");
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t C, cudaStream_t stream) {
    if (rows == 0) return;
    softmax_backward_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(dx, dy, y, C);
    CUDA_CHECK_LAUNCH("softmax_backward_kernel");
}

}  // namespace ringlm::kernels
