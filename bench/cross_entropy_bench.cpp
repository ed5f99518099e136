// The chunked cross-entropy op at a small model's head: T = 2048 tokens, C = 512, V = 4096,
// over the chunk size. FLOP counts (one GEMM of the logits is 2 T C V):
//   forward            1 GEMM  (logits)                                      2 T C V
//   forward + backward 4 GEMMs (logits; again in backward; dhidden; dclassifier)  8 T C V
// "FLOP/s" counts the GEMMs executed, the recompute included. "model FLOP/s" counts the
// 3 GEMMs (6 T C V) an implementation that kept the logits would do, the figure MFU uses.
// The softmax's exp/log work is not counted (O(T V), small beside C = 512 multiply-adds).
#include "autograd/tape.h"
#include "ops/ops.h"

#include <benchmark/benchmark.h>

#include <random>

namespace ringlm {

namespace {

struct HeadInputs {
    Tensor hidden, classifier, labels, dlosses;
};

HeadInputs make_head_inputs(int64_t T, int64_t C, int64_t V) {
    std::mt19937_64 rng(1234);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(V) - 1);
    HeadInputs in{empty({T, C}), empty({V, C}), empty({T}, DType::i32), empty({T})};
    for (int64_t i = 0; i < in.hidden.numel(); i++) in.hidden.data<float>()[i] = uniform(rng);
    for (int64_t i = 0; i < in.classifier.numel(); i++) in.classifier.data<float>()[i] = 0.05f * uniform(rng);
    for (int64_t t = 0; t < T; t++) in.labels.data<int32_t>()[t] = t % 10 == 9 ? -100 : token(rng);
    backend(in.dlosses).fill(in.dlosses, 1.0 / static_cast<double>(T));
    return in;
}

constexpr int64_t T = 2048, C = 512, V = 4096;

}  // namespace

static void BM_CrossEntropyForward(benchmark::State& state) {
    const int64_t chunk_rows = state.range(0);
    HeadInputs in = make_head_inputs(T, C, V);
    for (auto _ : state) {
        Tape no_grad(Tape::Mode::inference);
        Tensor losses = cross_entropy(no_grad, in.hidden, in.classifier, in.labels, chunk_rows);
        benchmark::DoNotOptimize(losses.raw());
    }
    const double gemm_flops = 2.0 * T * C * V;
    state.counters["FLOP/s"] = benchmark::Counter(gemm_flops, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens/s"] = benchmark::Counter(T, benchmark::Counter::kIsIterationInvariantRate);
}

static void BM_CrossEntropyForwardBackward(benchmark::State& state) {
    const int64_t chunk_rows = state.range(0);
    HeadInputs in = make_head_inputs(T, C, V);
    Tensor dhidden = zeros({T, C}), dclassifier = zeros({V, C});
    Grads grads;
    grads.bind(in.hidden, dhidden);
    grads.bind(in.classifier, dclassifier);
    for (auto _ : state) {
        Tape tape;
        Tensor losses = cross_entropy(tape, in.hidden, in.classifier, in.labels, chunk_rows);
        tape.backward(losses, in.dlosses, grads);
        benchmark::DoNotOptimize(dhidden.raw());
    }
    const double gemm_flops = 2.0 * T * C * V;
    state.counters["FLOP/s"] = benchmark::Counter(4 * gemm_flops, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["model FLOP/s"] = benchmark::Counter(3 * gemm_flops, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["tokens/s"] = benchmark::Counter(T, benchmark::Counter::kIsIterationInvariantRate);
}

// Wall-clock rates: OpenMP and OpenBLAS threads do the work, not the timing thread alone.
BENCHMARK(BM_CrossEntropyForward)->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrossEntropyForwardBackward)->Arg(256)->Arg(1024)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace ringlm
