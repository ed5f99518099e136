// CPU attention_merge: folds one block's partial attention into the running one (ring
// attention, DESIGN.md "Ring attention"). The formula is in backend.h; one work item per
// (token, head) row, whose D outputs are rescaled by two weights.
#include "backend/cpu/cpu_backend.h"

#include <cmath>
#include <limits>

namespace ringlm {

void CpuBackend::attention_merge(Tensor& out, Tensor& lse, const Tensor& out_block, const Tensor& lse_block) {
    dispatch_floating("attention_merge", out.dtype(), [&]<typename T>(T) {
        const int64_t rows = lse.numel(), D = out.cols();
        T* out_data = out.data<T>();
        T* lse_data = lse.data<T>();
        const T* block_out = out_block.data<T>();
        const T* block_lse = lse_block.data<T>();
        const T minus_infinity = -std::numeric_limits<T>::infinity();
#pragma omp parallel for schedule(static)
        for (int64_t row = 0; row < rows; row++) {
            const T a = lse_data[row], b = block_lse[row];
            T* o = out_data + row * D;
            const T* ob = block_out + row * D;
            // A side that saw no key is skipped outright: exact, and never 0 * (-inf) or NaN.
            if (b == minus_infinity) continue;
            if (a == minus_infinity) {
                for (int64_t c = 0; c < D; c++) o[c] = ob[c];
                lse_data[row] = b;
                continue;
            }
            // e = exp(min - max) <= 1, so nothing overflows;  lse' = max + log1p(e)
            const T larger = std::max(a, b), smaller = std::min(a, b);
            const T e = std::exp(smaller - larger);
            // exp(max - lse') = 1 / (1 + e), exp(min - lse') = e / (1 + e): weights taken from e,
            // not from the rounded lse' (at |lse| ~ 1000 its f32 rounding would cost 1e-4)
            const T larger_weight = T(1) / (T(1) + e), smaller_weight = e * larger_weight;
            const T weight = a >= b ? larger_weight : smaller_weight;
            const T block_weight = a >= b ? smaller_weight : larger_weight;
            for (int64_t c = 0; c < D; c++) o[c] = weight * o[c] + block_weight * ob[c];
            lse_data[row] = larger + std::log1p(e);
        }
    });
}

}  // namespace ringlm
