// What the cuDNN attention path (cudnn_attention.cpp) needs around cuDNN's graph: moving the
// LSE between ringlm's [T, H] and cuDNN's packed [H, T] stats, adding cuDNN's bf16 gradients
// into ringlm's f32 gradients, and reading a mask's structure on the device.
#include "common.cuh"
#include "kernels.h"

#include <cuda_bf16.h>

#include <climits>

namespace ringlm::kernels {

namespace {

// dst [cols, rows] = src [rows, cols]^T, one element per thread (the LSE is small: T * H).
__global__ void transpose_kernel(float* dst, const float* src, int64_t rows, int64_t cols) {
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        dst[c * rows + r] = src[i];
    }
}

__global__ void accumulate_bf16_kernel(float* y, const __nv_bfloat16* x, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        y[i] += __bfloat162float(x[i]);
}

// One block: reductions over Tq + Tk indices and segments (ints: min, max and AND are exact in
// any order). result = {segments_uniform, q_contiguous, k_contiguous, q_min, q_max, k_min, k_max}.
__global__ void classify_mask_kernel(int32_t* result, const int32_t* q_index, const int32_t* q_segment,
                                     const int32_t* k_index, const int32_t* k_segment, int64_t Tq, int64_t Tk) {
    __shared__ int32_t q_min, q_max, k_min, k_max;
    if (threadIdx.x == 0) {
        q_min = INT_MAX;
        q_max = INT_MIN;
        k_min = INT_MAX;
        k_max = INT_MIN;
    }
    __syncthreads();
    const int32_t segment = q_segment[0], q_first = q_index[0], k_first = k_index[0];
    int uniform = 1, q_contiguous = 1, k_contiguous = 1;
    int32_t my_q_min = INT_MAX, my_q_max = INT_MIN, my_k_min = INT_MAX, my_k_max = INT_MIN;
    for (int64_t i = threadIdx.x; i < Tq; i += blockDim.x) {
        uniform &= q_segment[i] == segment;
        q_contiguous &= q_index[i] == q_first + i;
        my_q_min = min(my_q_min, q_index[i]);
        my_q_max = max(my_q_max, q_index[i]);
    }
    for (int64_t j = threadIdx.x; j < Tk; j += blockDim.x) {
        uniform &= k_segment[j] == segment;
        k_contiguous &= k_index[j] == k_first + j;
        my_k_min = min(my_k_min, k_index[j]);
        my_k_max = max(my_k_max, k_index[j]);
    }
    atomicMin(&q_min, my_q_min);
    atomicMax(&q_max, my_q_max);
    atomicMin(&k_min, my_k_min);
    atomicMax(&k_max, my_k_max);
    uniform = __syncthreads_and(uniform);
    q_contiguous = __syncthreads_and(q_contiguous);
    k_contiguous = __syncthreads_and(k_contiguous);
    if (threadIdx.x == 0) {
        result[0] = uniform;
        result[1] = q_contiguous;
        result[2] = k_contiguous;
        result[3] = q_min;
        result[4] = q_max;
        result[5] = k_min;
        result[6] = k_max;
    }
}

}  // namespace

void transpose(float* dst, const float* src, int64_t rows, int64_t cols, cudaStream_t stream) {
    if (rows * cols == 0) return;
    transpose_kernel<<<grid_for(rows * cols, 256), 256, 0, stream>>>(dst, src, rows, cols);
    CUDA_CHECK_LAUNCH("transpose_kernel");
}

void accumulate_bf16(float* y, const void* x, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    accumulate_bf16_kernel<<<grid_for(n, 256), 256, 0, stream>>>(y, static_cast<const __nv_bfloat16*>(x), n);
    CUDA_CHECK_LAUNCH("accumulate_bf16_kernel");
}

void classify_attention_mask(int32_t* result, const int32_t* q_index, const int32_t* q_segment,
                             const int32_t* k_index, const int32_t* k_segment, int64_t Tq, int64_t Tk,
                             cudaStream_t stream) {
    classify_mask_kernel<<<1, 1024, 0, stream>>>(result, q_index, q_segment, k_index, k_segment, Tq, Tk);
    CUDA_CHECK_LAUNCH("classify_mask_kernel");
}

}  // namespace ringlm::kernels
