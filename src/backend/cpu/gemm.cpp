// CPU GEMM, row-major: C = alpha * op(A) @ op(B) + beta * C, by ringlm's packed GEMM
// (packed_gemm.cpp) or OpenBLAS (cblas_sgemm / cblas_dgemm), as packed_gemm_replaces_sgemm says.
// Batched (3-D) calls loop over the batch; each GEMM is large enough to be threaded on its own.
// Built without BLAS (only the GPU check's core-only build, where this GEMM is the reference
// and trains the CPU side of its training comparison), the packed GEMM does every dtype.
// bf16 operands (the bf16 matmuls of mixed-precision training) are widened to f32 first.
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/cpu_threads.h"
#include "backend/cpu/packed_gemm.h"

#ifdef RINGLM_WITH_BLAS
#include <cblas.h>

#include <cctype>
#include <string>
#endif

namespace ringlm {

#ifdef RINGLM_WITH_BLAS

// f32: the packed GEMM keeps 16 AVX-512 registers of FMAs going, while OpenBLAS runs 256-bit
// FMAs wherever its core is not one of its AVX-512 ones: when OPENBLAS_CORETYPE says Haswell
// (as this project's test machines preset it), or on a core newer than its release that it
// does not recognise. Measured on one Zen 5 core (bench/RESULTS.md, bench/sgemm_bench.cpp):
// packed 139-188 GFLOP/s on the model's shapes, OpenBLAS 0.3.21 Haswell 82-104, Cooperlake
// 169-188. So the packed GEMM runs where the build has AVX-512 (-march=native on such a core;
// not RINGLM_PORTABLE) and OpenBLAS's core has no AVX-512 kernel, for GEMMs of at least
// packed_gemm_rows_per_thread = 32 rows per thread: with fewer, packing all of B costs more
// than it saves (1376 x 512 B, 1 thread: 8 rows 32 against 44 GFLOP/s, 32 rows 89 against 77;
// 2 threads: 32 rows 99 against 130, 64 rows 156 against 160, 128 rows 236 against 177).
bool packed_gemm_replaces_sgemm() {
#ifdef __AVX512F__
    static const bool blas_has_avx512 = [] {
        std::string core = openblas_get_corename();
        for (char& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
    }();
    return !blas_has_avx512;
#else
    return false;
#endif
}

bool packed_gemm_runs(int64_t M) {
    return packed_gemm_replaces_sgemm() && M >= packed_gemm_rows_per_thread * cpu_threads();
}

void openblas_sgemm(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const float* a,
                    const float* b, double beta, float* c) {
    cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), static_cast<float>(alpha), a,
                static_cast<int>(transpose_a ? M : K), b, static_cast<int>(transpose_b ? K : N),
                static_cast<float>(beta), c, static_cast<int>(N));
}

namespace {

void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const float* a,
              const float* b, double beta, float* c) {
    if (packed_gemm_runs(M))
        packed_gemm(transpose_a, transpose_b, M, N, K, alpha, a, b, beta, c);
    else
        openblas_sgemm(transpose_a, transpose_b, M, N, K, alpha, a, b, beta, c);
}

void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const double* a,
              const double* b, double beta, double* c) {
    cblas_dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), alpha, a,
                static_cast<int>(transpose_a ? M : K), b, static_cast<int>(transpose_b ? K : N), beta, c,
                static_cast<int>(N));
}

#else

bool packed_gemm_replaces_sgemm() { return true; }

bool packed_gemm_runs(int64_t) { return true; }

void openblas_sgemm(bool, bool, int64_t, int64_t, int64_t, double, const float*, const float*, double, float*) {
    fail("openblas_sgemm: this build has no BLAS (the core-only build)");
}

namespace {

template <typename T>
void gemm_one(bool transpose_a, bool transpose_b, int64_t M, int64_t N, int64_t K, double alpha, const T* a,
              const T* b, double beta, T* c) {
    packed_gemm(transpose_a, transpose_b, M, N, K, alpha, a, b, beta, c);
}

#endif

}  // namespace

void CpuBackend::gemm(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, double alpha,
                      double beta) {
    if (any_bf16({&a, &b, &c})) {
        // bf16 a, b into an f32 or bf16 c: each bf16 operand widened to f32 (exact), then the
        // f32 gemm, a bf16 c rounded from its f32 result. The products of bf16 values are exact
        // in f32 too, so this is the GPU's math (bf16 inputs, f32 accumulation) up to the order
        // of the sums.
        if (a.dtype() != DType::bf16 || b.dtype() != DType::bf16 || compute_dtype(c.dtype()) != DType::f32)
            fail("gemm: a {}, b {}, c {}: bf16 operands take bf16 a and b with an f32 or bf16 c", a.describe(),
                 b.describe(), c.describe());
        Tensor c_f32 = f32_output(c, beta != 0.0);
        gemm(c_f32, widened(a), widened(b), transpose_a, transpose_b, alpha, beta);
        return narrow_into(c, c_f32);
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
