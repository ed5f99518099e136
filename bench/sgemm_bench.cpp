// f32 GEMM at the shapes a training step of the peer model runs (2 x 1024 tokens, dim 512,
// ffn 1376, 2 KV heads of 64, vocab 4096), by ringlm's packed GEMM and by OpenBLAS's sgemm,
// random inputs, C overwritten (beta = 0). The counter is FLOP/s (2 M N K per call).
//   BM_Gemm/<impl>/<transpose_a>/<transpose_b>/M/N/K, impl 0 = packed_gemm, 1 = cblas_sgemm
// nt: activations @ weight^T (forward), nn: d(output) @ weight (backward data),
// tn: d(output)^T @ activations (backward weights).
#include "backend/cpu/packed_gemm.h"

#include <benchmark/benchmark.h>

#ifdef RINGLM_WITH_BLAS
#include <cblas.h>
#endif

#include <random>
#include <vector>

namespace ringlm {

static void BM_Gemm(benchmark::State& state) {
    const bool openblas = state.range(0) == 1, transpose_a = state.range(1), transpose_b = state.range(2);
    const int64_t M = state.range(3), N = state.range(4), K = state.range(5);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> a(M * K), b(K * N), c(M * N);
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
#ifndef RINGLM_WITH_BLAS
    if (openblas) return state.SkipWithError("built without BLAS");
#endif
    for (auto _ : state) {
        if (!openblas) {
            packed_gemm(transpose_a, transpose_b, M, N, K, 1.0, a.data(), b.data(), 0.0, c.data());
        } else {
#ifdef RINGLM_WITH_BLAS
            cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                        static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f, a.data(),
                        static_cast<int>(transpose_a ? M : K), b.data(), static_cast<int>(transpose_b ? K : N), 0.0f,
                        c.data(), static_cast<int>(N));
#endif
        }
        benchmark::DoNotOptimize(c.data());
    }
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Gemm)
    ->ArgsProduct({{0, 1}, {0}, {1}, {2048}, {128, 512, 1376, 4096}, {512}})  // q/k/v/o, w1/w3, logits
    ->ArgsProduct({{0, 1}, {0}, {1}, {2048}, {512}, {1376}})                  // w2
    ->ArgsProduct({{0, 1}, {0}, {0}, {2048}, {512}, {512, 1376, 4096}})       // d(input)
    ->ArgsProduct({{0, 1}, {1}, {0}, {128, 512, 1376, 4096}, {512}, {2048}})  // d(weight)
    ->ArgsProduct({{0, 1}, {0}, {1}, {8, 32, 64, 128, 256}, {1376}, {512}})   // few rows
    ->Unit(benchmark::kMillisecond);

}  // namespace ringlm
