// CPU GEMM through OpenBLAS (cblas_sgemm / cblas_dgemm), row-major.
//   C = alpha * op(A) @ op(B) + beta * C
// Batched (3-D) calls loop over the batch; each sgemm is large enough that OpenBLAS's own
// threading, not ours, is what parallelises it. Built without BLAS (only the GPU check's
// core-only build, where this GEMM is just a reference), plain loops do the same.
#include "backend/cpu/cpu_backend.h"

#ifdef RINGLM_WITH_BLAS
#include <cblas.h>
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

template <typename T>
void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const T* a,
              const T* b, double beta, T* c) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += static_cast<double>(transpose_a ? a[k * M + i] : a[i * K + k]) *
                       static_cast<double>(transpose_b ? b[j * K + k] : b[k * N + j]);
            T& out = c[i * N + j];
            out = static_cast<T>(alpha * acc + (beta == 0 ? 0.0 : beta * static_cast<double>(out)));
        }
    }
}

#endif

}  // namespace

void CpuBackend::gemm(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, double alpha,
                      double beta) {
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
