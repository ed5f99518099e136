// CPU column slices: a group of heads of a [T, H, D] tensor (viewed as [T, H*D]) copied out
// into its own contiguous tensor, or added back. The formulas are in backend.h.
#include "backend/cpu/cpu_backend.h"

#include <algorithm>

namespace ringlm {

// dst[r, c] = src[r, begin + c]
void CpuBackend::gather_columns(Tensor& dst, const Tensor& src, int64_t begin) {
    dispatch_floating("gather_columns", src.dtype(), [&]<typename T>(T) {
        const int64_t rows = dst.size(0), dst_cols = dst.size(1), src_cols = src.size(1);
        const T* source = src.data<T>();
        T* destination = dst.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            const T* from = source + r * src_cols + begin;
            std::copy(from, from + dst_cols, destination + r * dst_cols);
        }
    });
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
