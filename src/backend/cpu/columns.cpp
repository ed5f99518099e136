// CPU column slices: a group of heads of a [T, H, D] tensor (viewed as [T, H*D]) copied out
// into its own contiguous tensor, or added back. The formulas are in backend.h.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>

namespace ringlm {

// dst[r, c] = src[r, begin + c]: a move of bytes, so any floating dtype (bf16 q, k, v too)
void CpuBackend::gather_columns(Tensor& dst, const Tensor& src, int64_t begin) {
    if (!is_floating(src.dtype()) || src.dtype() != dst.dtype())
        fail("gather_columns: src {} and dst {} must share one floating dtype", src.describe(), dst.describe());
    const int64_t rows = dst.size(0), element = dtype_size(src.dtype());
    const int64_t dst_bytes = dst.size(1) * element, src_bytes = src.size(1) * element;
    const char* source = static_cast<const char*>(src.raw());
    char* destination = static_cast<char*>(dst.raw());
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        std::memcpy(destination + r * dst_bytes, source + r * src_bytes + begin * element, dst_bytes);
}

// dst[r, begin + c] += src[r, c]
void CpuBackend::scatter_add_columns(Tensor& dst, const Tensor& src, int64_t begin) {
    dispatch_floating("scatter_add_columns", src.dtype(), [&]<typename T>(T) {
        const int64_t rows = dst.size(0), dst_cols = dst.size(1), src_cols = src.size(1);
        const T* source = src.data<T>();
        T* destination = dst.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const T* from = source + r * src_cols;
            T* to = destination + r * dst_cols + begin;
            for (int64_t c = 0; c < src_cols; c++) to[c] += from[c];
        }
    });
}

}  // namespace ringlm
