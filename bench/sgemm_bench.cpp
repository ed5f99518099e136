// sgemm at the shapes a Llama layer uses; the counter is FLOP/s (2 M N K per call).
#include "backend/backend.h"

#include <benchmark/benchmark.h>

namespace ringlm {

static void BM_Sgemm(benchmark::State& state) {
    const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
    Tensor a = zeros({M, K}), b = zeros({N, K}), c = zeros({M, N});
    backend(a).fill(a, 0.5);
    backend(b).fill(b, 0.25);
    for (auto _ : state) backend(a).gemm(c, a, b, false, true, 1.0, 0.0);
    state.counters["FLOP/s"] = benchmark::Counter(2.0 * M * N * K, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Sgemm)->Args({2048, 512, 512})->Args({2048, 1376, 512})->Args({2048, 512, 1376})->Unit(benchmark::kMillisecond);

}  // namespace ringlm
