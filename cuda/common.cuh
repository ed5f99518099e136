// Device helpers the .cu files share: launch sizing and block-wide reductions.
// Reductions combine in a fixed tree order, so a result is the same bits every run.
#pragma once

#include "cuda_check.h"

#include <cstdint>

namespace ringlm::kernels {

// Blocks for a grid-stride loop over n elements: enough to fill the device, no more.
inline unsigned grid_for(int64_t n, int threads) {
    const int64_t blocks = (n + threads - 1) / threads;
    return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65536 ? 65536 : blocks));
}

template <typename T> __device__ inline T warp_sum(T value) {
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
    return value;
}

__device__ inline float warp_max(float value) {
    for (int offset = 16; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, offset));
    return value;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// `shared` holds 32 values; the call ends with the block synchronised, so it can be reused.
template <typename T> __device__ inline T block_sum(T value, T* shared) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    value = warp_sum(value);
    if (lane == 0) shared[warp] = value;
    __syncthreads();
    T total = lane < warps ? shared[lane] : T(0);
    total = warp_sum(total);
    __syncthreads();
    return total;
}

__device__ inline float block_max(float value, float* shared) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    value = warp_max(value);
    if (lane == 0) shared[warp] = value;
    __syncthreads();
    float result = lane < warps ? shared[lane] : -INFINITY;
    result = warp_max(result);
    __syncthreads();
    return result;
}

}  // namespace ringlm::kernels
