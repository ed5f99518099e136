// Column slices: a group of heads of a [T, H, D] tensor (viewed as [T, H*D]) copied out into
// its own contiguous tensor, or added back. One thread per element of the narrower tensor;
// every destination element has exactly one writer, so no atomics.
//   gather_columns:       dst[r, c] = src[r, begin + c],   c < dst_cols
//   scatter_add_columns:  dst[r, begin + c] += src[r, c],  c < src_cols
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

template <typename X>
__global__ void gather_columns_kernel(X* dst, const X* src, int64_t rows, int64_t dst_cols, int64_t src_cols,
                                      int64_t begin) {
    const int64_t n = rows * dst_cols;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / dst_cols, c = i % dst_cols;
        dst[i] = src[r * src_cols + begin + c];
    }
}

__global__ void scatter_add_columns_kernel(float* dst, const float* src, int64_t rows, int64_t dst_cols,
                                           int64_t src_cols, int64_t begin) {
    const int64_t n = rows * src_cols;
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / src_cols, c = i % src_cols;
        dst[r * dst_cols + begin + c] += src[i];
    }
}

}  // namespace

void gather_columns(ActivationOut dst, ActivationIn src, int64_t rows, int64_t dst_cols, int64_t src_cols,
                    int64_t begin, cudaStream_t stream) {
    const int64_t n = rows * dst_cols;
    if (n == 0) return;
    with_element_type(src.dtype, [&](auto x_type) {
        using X = decltype(x_type);
        gather_columns_kernel<<<grid_for(n, threads), threads, 0, stream>>>(
            static_cast<X*>(dst.data), static_cast<const X*>(src.data), rows, dst_cols, src_cols, begin);
    });
    CUDA_CHECK_LAUNCH("gather_columns_kernel");
}

void scatter_add_columns(float* dst, const float* src, int64_t rows, int64_t dst_cols, int64_t src_cols, int64_t begin,
                         cudaStream_t stream) {
    const int64_t n = rows * src_cols;
    if (n == 0) return;
    scatter_add_columns_kernel<<<grid_for(n, threads), threads, 0, stream>>>(dst, src, rows, dst_cols, src_cols,
                                                                             begin);
    CUDA_CHECK_LAUNCH("scatter_add_columns_kernel");
}

}  // namespace ringlm::kernels
