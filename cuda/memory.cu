// Device-side dtype conversion and fill (Backend::copy and Backend::fill; the host side of
// copy, cudaMemcpy, is in cuda_backend.cpp).
#include "common.cuh"
#include "kernels.h"

#include <cuda_bf16.h>

namespace ringlm::kernels {

namespace {

// bf16 rounds to nearest even, as the host's to_bfloat16 does.
template <typename T> __device__ inline double load(const void* p, int64_t i) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        return static_cast<double>(__bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]));
    } else {
        return static_cast<double>(static_cast<const T*>(p)[i]);
    }
}

template <typename T> __device__ inline void store(void* p, int64_t i, double value) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
        static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(value));
    } else {
        static_cast<T*>(p)[i] = static_cast<T>(value);
    }
}

template <typename Dst, typename Src> __global__ void convert_kernel(void* dst, const void* src, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        store<Dst>(dst, i, load<Src>(src, i));
}

template <typename T> __global__ void fill_kernel(void* x, int64_t n, double value) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
        store<T>(x, i, value);
}

template <typename Body> void dispatch_dtype(DType dtype, Body&& body) {
    switch (dtype) {
        case DType::f32: return body(float{});
        case DType::f64: return body(double{});
        case DType::bf16: return body(__nv_bfloat16{});
        case DType::i32: return body(int32_t{});
        case DType::i64: return body(int64_t{});
        case DType::f16: break;
    }
    throw_cuda_error("ringlm", "convert/fill", "f16 tensors are not supported by the cuda backend", __FILE__, __LINE__);
}

}  // namespace

void convert(void* dst, DType dst_dtype, const void* src, DType src_dtype, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    dispatch_dtype(src_dtype, [&]<typename S>(S) {
        dispatch_dtype(dst_dtype, [&]<typename D>(D) {
            convert_kernel<D, S><<<grid_for(n, 256), 256, 0, stream>>>(dst, src, n);
            CUDA_CHECK_LAUNCH("convert_kernel");
        });
    });
}

void fill(void* x, DType dtype, int64_t n, double value, cudaStream_t stream) {
    if (n == 0) return;
    dispatch_dtype(dtype, [&]<typename T>(T) {
        fill_kernel<T><<<grid_for(n, 256), 256, 0, stream>>>(x, n, value);
        CUDA_CHECK_LAUNCH("fill_kernel");
    });
}

}  // namespace ringlm::kernels
