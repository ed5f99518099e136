// ringlm's GEMM: C = alpha * op(A) @ op(B) + beta * C, row-major, f32 or f64.
//
// The loop nest of Goto and van de Geijn ("Anatomy of high-performance matrix multiplication",
// ACM TOMS 34(3), 2008), as in BLIS:
//   for each panel of kc_max values of k:
//     pack op(B)[panel, :] into strips of 32 columns          strip[k][w], zero past N
//     for each block of up to mc_max rows of C (threads split the blocks):
//       pack op(A)[block, panel] into strips of 8 rows (f64: 4) strip[k][r], zero past M
//       for each B strip, for each A strip of the block:
//         acc[r][w] = sum_k A[r, k] * B[k, w]                  the register block
//         C[r, w] = alpha * acc + beta * C on the first panel, C += alpha * acc after it
// The register block is tile_product's (tile_product.h): 8 rows x 32 columns in f32 (4 x 32 in
// f64), the A strip read k-major (OperandA::transposed), the B strip as stored. A B strip
// (kc x 32 floats = 32 KiB) stays in L1 while the block's A strips (128 x 256 floats = 128 KiB)
// stream from L2. Measured on one Zen 5 core (bench/sgemm_bench.cpp, bench/RESULTS.md): 139-188
// GFLOP/s on the model's shapes, where OpenBLAS 0.3.21's Haswell kernel runs 82-104 in the same
// runs and its Cooperlake kernel 169-188. Of the pairs tried (kc 256 to 512, mc 96 to 384) none
// beat kc 256, mc 128 by more than the run-to-run noise.
//
// Each element of C is one chain of FMAs per panel, panels in order of k, whatever block or
// thread computes it: the same bits at every thread count.
#include "backend/cpu/packed_gemm.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/tile_product.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace ringlm {

namespace {

constexpr int64_t kc_max = 256;  // values of k per packed panel
constexpr int64_t mc_max = 128;  // rows of C per packed A block

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// One strip of `strip_rows` rows of X for k in [0, kc): strip[k * strip_rows + r] = X(r, k),
// rows from `valid` on zero. X's rows run along k in memory (X(r, k) = x[r * stride + k]) or
// across it (X(r, k) = x[k * stride + r]). Serves op(A) (rows of C) and op(B) (columns of C)
// alike. Rows along k are transposed 16 values of k at a time through a tile in registers and
// L1, so both the loads and the stores are whole vectors; rows across k are a copy per k.
template <int64_t strip_rows, typename T>
void pack_strip(T* __restrict strip, const T* __restrict x, int64_t stride, bool rows_along_k, int64_t valid,
                int64_t kc) {
    constexpr int64_t chunk = 16;
    if (valid < strip_rows || (rows_along_k && kc % chunk != 0)) {  // an edge strip: element by element
        for (int64_t k = 0; k < kc; k++)
            for (int64_t r = 0; r < strip_rows; r++)
                strip[k * strip_rows + r] = r >= valid ? T(0) : rows_along_k ? x[r * stride + k] : x[k * stride + r];
    } else if (rows_along_k) {
        for (int64_t k0 = 0; k0 < kc; k0 += chunk) {
            T tile[strip_rows][chunk];
            for (int64_t r = 0; r < strip_rows; r++)
                for (int64_t j = 0; j < chunk; j++) tile[r][j] = x[r * stride + k0 + j];
            for (int64_t j = 0; j < chunk; j++)
                for (int64_t r = 0; r < strip_rows; r++) strip[(k0 + j) * strip_rows + r] = tile[r][j];
        }
    } else {
        for (int64_t k = 0; k < kc; k++)
            for (int64_t r = 0; r < strip_rows; r++) strip[k * strip_rows + r] = x[k * stride + r];
    }
}

// One register block of C from one A strip and one B strip, of which rows_valid x cols_valid
// are stored: C = alpha * AB + beta * C on the first panel (beta = 0 never reads C), C +=
// alpha * AB after it.
template <typename T>
void register_block(int64_t kc, const T* a_strip, const T* b_strip, T* c, int64_t ldc, int64_t rows_valid,
                    int64_t cols_valid, T alpha, T beta, bool first_panel) {
    constexpr int64_t rows = tile_product_rows<T>, cols = tile_product_width;
    T product[rows][cols];
    tile_product<Into::overwrite, OperandA::transposed>(&product[0][0], cols, a_strip, rows, b_strip, cols, rows, kc,
                                                         cols);
    auto update = [&](T& out, T sum) {
        out = !first_panel ? out + alpha * sum : beta == T(0) ? alpha * sum : alpha * sum + beta * out;
    };
    if (rows_valid == rows && cols_valid == cols) {  // constant trip counts: vector stores
        for (int64_t r = 0; r < rows; r++)
            for (int64_t w = 0; w < cols; w++) update(c[r * ldc + w], product[r][w]);
    } else {
        for (int64_t r = 0; r < rows_valid; r++)
            for (int64_t w = 0; w < cols_valid; w++) update(c[r * ldc + w], product[r][w]);
    }
}

}  // namespace

template <typename T>
void packed_gemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const T* a,
                 const T* b, double beta, T* c) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // C = beta * C
        for (int64_t e = 0; e < M * N; e++) c[e] = beta == 0 ? T(0) : static_cast<T>(beta * c[e]);
        return;
    }
    constexpr int64_t rows = tile_product_rows<T>, cols = tile_product_width;
    // op(A)(i, k) is a[i * K + k], or a[k * M + i] when transposed; op(B)(k, j) is b[k * N + j],
    // or b[j * K + k] when transposed: a strip of A's rows runs along k unless transposed, a
    // strip of B's columns only when transposed.
    auto a_at = [&](int64_t i, int64_t k) { return transpose_a ? a + k * M + i : a + i * K + k; };
    auto b_at = [&](int64_t k, int64_t j) { return transpose_b ? b + j * K + k : b + k * N + j; };
    const int64_t a_stride = transpose_a ? M : K, b_stride = transpose_b ? K : N;
    // Row blocks of at most mc_max rows, as many as a multiple of the threads, so each thread
    // gets the same number of rows.
    const int threads = omp_get_max_threads();
    const int64_t blocks = round_up((M + mc_max - 1) / mc_max, threads);
    const int64_t mc = round_up((M + blocks - 1) / blocks, rows);
    const int64_t b_strips = (N + cols - 1) / cols;
    const int64_t kc_most = std::min(K, kc_max);
    Tensor b_holder, a_holder;
    T* b_panel = cpu_scratch<T>(b_holder, b_strips * cols * kc_most);
    T* a_blocks = cpu_scratch<T>(a_holder, threads * mc * kc_most);
    for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = std::min(kc_max, K - pc);
#pragma omp parallel
        {
#pragma omp for schedule(static)
            for (int64_t s = 0; s < b_strips; s++)
                pack_strip<cols>(b_panel + s * cols * kc, b_at(pc, s * cols), b_stride, transpose_b,
                                 std::min(cols, N - s * cols), kc);
            T* a_block = a_blocks + omp_get_thread_num() * mc * kc;
#pragma omp for schedule(static)
            for (int64_t block = 0; block < blocks; block++) {
                const int64_t i0 = block * mc, m = std::min(mc, M - i0);
                if (m <= 0) continue;
                for (int64_t ir = 0; ir < m; ir += rows)
                    pack_strip<rows>(a_block + ir * kc, a_at(i0 + ir, pc), a_stride, !transpose_a,
                                     std::min(rows, m - ir), kc);
                for (int64_t s = 0; s < b_strips; s++)
                    for (int64_t ir = 0; ir < m; ir += rows)
                        register_block<T>(kc, a_block + ir * kc, b_panel + s * cols * kc, c + (i0 + ir) * N + s * cols,
                                          N, std::min(rows, m - ir), std::min(cols, N - s * cols), static_cast<T>(alpha),
                                          static_cast<T>(beta), pc == 0);
            }
        }
    }
}

template void packed_gemm<float>(bool, bool, int64_t, int64_t, int64_t, double, const float*, const float*, double,
                                 float*);
template void packed_gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, const double*, double,
                                  double*);

}  // namespace ringlm
