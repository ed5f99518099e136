// Reference matrix product for the gemm and matmul tests: triple loops in f64, sharing no code
// with the backend. X is [rows, cols] row-major; op(X) = X^T when transposed.
#pragma once

#include "tensor/tensor.h"

#include <vector>

namespace ringlm::testing {

// op(a) @ op(b) for one 2-D pair given as f64 arrays; returns [M, N].
inline std::vector<double> naive_matmul(const double* a, const double* b, int64_t M, int64_t N, int64_t K,
                                        bool transpose_a, bool transpose_b) {
    std::vector<double> c(M * N, 0.0);
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double total = 0;
            for (int64_t k = 0; k < K; k++) {
                const double a_ik = transpose_a ? a[k * M + i] : a[i * K + k];
                const double b_kj = transpose_b ? b[j * K + k] : b[k * N + j];
                total += a_ik * b_kj;
            }
            c[i * N + j] = total;
        }
    }
    return c;
}

// The operand layouts both tests cover: 2-D, batched (3-D), batched with one shared 2-D B.
enum class Layout { single, batched, shared_b };
inline const char* layout_name(Layout layout) {
    return layout == Layout::single ? "2-D" : layout == Layout::batched ? "batched" : "shared-B batched";
}

}  // namespace ringlm::testing
