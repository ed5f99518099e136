// Device helpers the .cu files share: launch sizing and block-wide reductions.
// Reductions combine in a fixed tree order, so a result is the same bits every run.
#pragma once

#include "cuda_check.h"
#include "tensor/dtype.h"

#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>

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

// bf16 activations: a kernel templated on its operands' element type X (float or
// __nv_bfloat16) reads with to_float and writes with from_float<X> (round to nearest even), so
// the math is f32 for both.
__device__ inline float to_float(float value) { return value; }
__device__ inline float to_float(__nv_bfloat16 value) { return __bfloat162float(value); }
template <typename X> __device__ inline X from_float(float value) {
    if constexpr (std::is_same_v<X, __nv_bfloat16>) {
        return __float2bfloat16_rn(value);
    } else {
        return value;
    }
}

// body(X{}) with X = __nv_bfloat16 for a bf16 operand, float for an f32 one (the launchers'
// callers, cuda_backend.cpp, refuse any other dtype).
template <typename Body> void with_element_type(DType dtype, Body&& body) {
    if (dtype == DType::bf16) {
        body(__nv_bfloat16{});
    } else {
        body(float{});
    }
}

}  // namespace ringlm::kernels
