// ringlm's own GEMM, row-major: C = alpha * op(A) @ op(B) + beta * C (packed_gemm.cpp), and the
// rule that picks it or OpenBLAS for an f32 GEMM (gemm.cpp).
#pragma once

#include <cstdint>

namespace ringlm {

// op(A) is [M, K] (a is [K, M] when transpose_a), op(B) is [K, N] (b is [N, K] when
// transpose_b), C is [M, N]. beta == 0 never reads C (it may hold NaN). The bits of C do not
// depend on the thread count. Instantiated for float and double.
template <typename T>
void packed_gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const T* a,
                 const T* b, double beta, T* c);

// True when f32 GEMMs of at least packed_gemm_rows_per_thread rows per thread run
// packed_gemm rather than OpenBLAS's sgemm (gemm.cpp says when and why); always true in a
// build without BLAS, where packed_gemm does every GEMM.
bool packed_gemm_replaces_sgemm();
constexpr int64_t packed_gemm_rows_per_thread = 32;

// True when an f32 GEMM of M rows runs packed_gemm at the current thread count: the rule
// above, applied (always true in a build without BLAS).
bool packed_gemm_runs(int64_t M);

// OpenBLAS's cblas_sgemm for the same C = alpha * op(A) @ op(B) + beta * C, whatever the rule
// above picks: `ringlm bench` measures it beside the GEMM the model runs. A build without BLAS
// (built_with_blas() false) throws.
void openblas_sgemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const float* a,
                    const float* b, double beta, float* c);

}  // namespace ringlm
