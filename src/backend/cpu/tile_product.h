// The register-blocked product both of the CPU backend's own matrix kernels run: attention's
// tiles (attention_block.cpp) and the packed GEMM's strips (packed_gemm.cpp).
//   C[M][N] (=, or +=) op(A)[M][K] @ B[K][N], row-major with leading dimensions;
//   M % tile_product_rows<T> == 0, N % tile_product_width == 0.
// op(A) is A, stored [M][K], or A^T with A stored [K][M]: attention's backward reads P and dS as
// they were computed for dV += P^T dO and dK += dS^T Q, and the packed GEMM's A strips are
// stored k-major. Overwriting starts the accumulators at zero instead of reading C (no fill
// pass before).
// A block of 8 rows x 32 columns of C stays in registers while k runs (16 AVX-512 registers
// for f32; 4 rows for f64, to fit the same registers): per k, 32 elements of B serve 8 rows,
// 16 independent FMA chains for 2 FMA pipes x 4 cycles of latency. Measured on Zen 4, one
// thread: 8 x 32 about 95 GFLOP/s, 4 x 64 about 84, 16-wide blocks far slower; on Zen 5 8 x 32
// runs about 200 GFLOP/s (4, 12 and 16 rows: 65, 134-158 and 116-135 in the packed GEMM).
#pragma once

#include <cmath>
#include <cstdint>

namespace ringlm {

template <typename T>
constexpr int64_t tile_product_rows = sizeof(T) == 4 ? 8 : 4;
constexpr int64_t tile_product_width = 32;

enum class Into { overwrite, accumulate };
enum class OperandA { as_stored, transposed };

template <Into into, OperandA a_form, typename T>
void tile_product(T* c, int64_t ldc, const T* a, int64_t lda, const T* b, int64_t ldb, int64_t M, int64_t K, int64_t N) {
    constexpr int64_t rows = tile_product_rows<T>, width = tile_product_width;
    for (int64_t i0 = 0; i0 < M; i0 += rows) {
        for (int64_t n0 = 0; n0 < N; n0 += width) {
            T acc[rows][width];
            for (int64_t r = 0; r < rows; r++)
                for (int64_t w = 0; w < width; w++)
                    acc[r][w] = into == Into::accumulate ? c[(i0 + r) * ldc + n0 + w] : T(0);
            for (int64_t kk = 0; kk < K; kk++) {
                const T* b_row = b + kk * ldb + n0;
                for (int64_t r = 0; r < rows; r++) {
                    const T a_rk = a_form == OperandA::as_stored ? a[(i0 + r) * lda + kk] : a[kk * lda + i0 + r];
                    for (int64_t w = 0; w < width; w++) acc[r][w] = std::fma(a_rk, b_row[w], acc[r][w]);
                }
            }
            for (int64_t r = 0; r < rows; r++)
                for (int64_t w = 0; w < width; w++) c[(i0 + r) * ldc + n0 + w] = acc[r][w];
        }
    }
}

}  // namespace ringlm
