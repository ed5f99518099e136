// CPU GEMM through OpenBLAS (cblas_sgemm / cblas_dgemm), row-major.
//   C = alpha * op(A) @ op(B) + beta * C
// Batched (3-D) calls loop over the batch; each sgemm is large enough that OpenBLAS's own
// threading, not ours, is what parallelises it. Built without BLAS (only the GPU check's
// core-only build, where this GEMM is the reference and trains the CPU side of its training
// comparison), blocked OpenMP loops do the same in f32, as sgemm does.
// bf16 operands (the bf16 matmuls of mixed-precision training) are widened to f32 first.
#include "backend/cpu/cpu_backend.h"

#ifdef RINGLM_WITH_BLAS
#include <cblas.h>
#else
#include <algorithm>
#include <vector>
#endif

namespace ringlm {

namespace {

#ifdef RINGLM_WITH_BLAS

void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const float* a,
              const float* b, double beta, float* c) {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), static_cast<float>(alpha), a,
                static_cast<int>(transpose_a ? M : K), b, static_cast<int>(transpose_b ? K : N),
                static_cast<float>(beta), c, static_cast<int>(N));
}

void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const double* a,
              const double* b, double beta, double* c) {
    cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, a,
                static_cast<int>(transpose_a ? M : K), b, static_cast<int>(transpose_b ? K : N), beta, c,
                static_cast<int>(N));
}

#else

// Without BLAS: op(A) is packed as M rows of K and op(B) as N rows of K, so every element of C
// is a contiguous dot product that `omp simd` vectorises; 4 rows of A share each row of B,
// and a tile of B rows is reused by a whole block of A rows while it is in cache. Each C
// element is summed by one thread in a fixed order: the same bits run to run.
constexpr int64_t rows_per_task = 8;   // A rows per OpenMP task (small: 16 threads, M = 128)
constexpr int64_t b_tile_rows = 64;    // B rows reused by a task's A rows while in cache

template <typename T>
void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const T* a,
              const T* b, double beta, T* c) {
    std::vector<T> a_packed, b_packed;
    if (transpose_a) {  // a is [K, M]: a_packed[i, k] = a[k, i]
        a_packed.resize(static_cast<size_t>(M * K));
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++) a_packed[i * K + k] = a[k * M + i];
        a = a_packed.data();
    }
    if (!transpose_b) {  // b is [K, N]: b_packed[j, k] = b[k, j]
        b_packed.resize(static_cast<size_t>(N * K));
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < N; j++)
            for (int64_t k = 0; k < K; k++) b_packed[j * K + k] = b[k * N + j];
        b = b_packed.data();
    }
    // c = alpha * dot + beta * c, where beta == 0 never reads c (it may hold NaN)
    auto store = [alpha, beta](T& out, T dot) {
        out = static_cast<T>(alpha * static_cast<double>(dot) + (beta == 0 ? 0.0 : beta * static_cast<double>(out)));
    };
#pragma omp parallel for schedule(static)
    for (int64_t task = 0; task < (M + rows_per_task - 1) / rows_per_task; task++) {
        const int64_t row_begin = task * rows_per_task, row_end = std::min(M, row_begin + rows_per_task);
        for (int64_t tile = 0; tile < N; tile += b_tile_rows) {
            const int64_t tile_end = std::min(N, tile + b_tile_rows);
            for (int64_t i = row_begin; i < row_end; i += 4) {
                const int64_t n_rows = std::min<int64_t>(4, row_end - i);
                // rows past the end repeat the last one (computed, never stored)
                const T* a0 = a + i * K;
                const T* a1 = a + (i + std::min<int64_t>(1, n_rows - 1)) * K;
                const T* a2 = a + (i + std::min<int64_t>(2, n_rows - 1)) * K;
                const T* a3 = a + (i + std::min<int64_t>(3, n_rows - 1)) * K;
                for (int64_t j = tile; j < tile_end; j++) {
                    const T* bj = b + j * K;
                    T dot0 = 0, dot1 = 0, dot2 = 0, dot3 = 0;
#pragma omp simd reduction(+ : dot0, dot1, dot2, dot3)
                    for (int64_t k = 0; k < K; k++) {
                        dot0 += a0[k] * bj[k];
                        dot1 += a1[k] * bj[k];
                        dot2 += a2[k] * bj[k];
                        dot3 += a3[k] * bj[k];
                    }
                    const T dots[4] = {dot0, dot1, dot2, dot3};
                    for (int64_t r = 0; r < n_rows; r++) store(c[(i + r) * N + j], dots[r]);
                }
            }
        }
    }
}

#endif

}  // namespace

void CpuBackend::gemm(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, double alpha,
                      double beta) {
    if (a.dtype() == DType::bf16 || b.dtype() == DType::bf16) {
        // bf16 a, b into an f32 c: each bf16 operand widened to f32 (exact), then sgemm. The
        // products of bf16 values are exact in f32 too, so this is the GPU's math (bf16
        // inputs, f32 accumulation) up to the order of the sums.
        if (a.dtype() != DType::bf16 || b.dtype() != DType::bf16 || c.dtype() != DType::f32)
            fail("gemm: a {}, b {}, c {}: bf16 operands take bf16 a and b with an f32 c", a.describe(), b.describe(),
                 c.describe());
        Tensor a_f32 = empty(a.shape(), DType::f32), b_f32 = empty(b.shape(), DType::f32);
        copy(a_f32, a);
        copy(b_f32, b);
        return gemm(c, a_f32, b_f32, transpose_a, transpose_b, alpha, beta);
    }
    const bool batched = a.dim() == 3;
    const int64_t batch = batched ? a.size(0) : 1;
    const int64_t M = transpose_a ? a.size(-1) : a.size(-2);
    const int64_t K = transpose_a ? a.size(-2) : a.size(-1);
    const int64_t N = transpose_b ? b.size(-2) : b.size(-1);
    const bool shared_b = b.dim() == 2;
    dispatch_floating("gemm", a.dtype(), [&]<typename T>(T) {
        for (int64_t i = 0; i < batch; i++) {
            gemm_one(transpose_a, transpose_b, M, N, K, alpha, a.data<T>() + i * M * K,
                     b.data<T>() + (shared_b ? 0 : i * K * N), beta, c.data<T>() + i * M * N);
        }
    });
}

}  // namespace ringlm
