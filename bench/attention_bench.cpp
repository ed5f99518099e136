// The attention block kernels at a Llama-like shape: H 8, Hkv 2 (GQA), D 64, T in {1024, 4096},
// for three masks: causal, causal over packed documents, and unmasked (bidirectional).
// FLOP/s counter: forward = 4 T^2 H D f (scores Q K^T and P V, 2 flops per multiply-add),
// backward = 2.5x that (five T^2 H D products: S, dP, dV, dK, dQ; our kernel recomputes S),
// f = fraction of (query, key) pairs visible under the mask.
#include "backend/backend.h"

#include <benchmark/benchmark.h>

#include <random>

namespace ringlm {
namespace {

enum MaskKind { causal = 0, packed_documents = 1, unmasked = 2 };
const char* mask_name(int64_t kind) {
    return kind == causal ? "causal" : kind == packed_documents ? "packed documents, causal" : "unmasked";
}

struct Inputs {
    Tensor q, k, v, out, lse, dout, dq, dk, dv;
    AttentionMask mask;
    double visible_fraction = 0;
};

Inputs make_inputs(int64_t T, int64_t kind) {
    const int64_t H = 8, Hkv = 2, D = 64;
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> uniform(-1, 1);
    auto random = [&](Shape shape) {
        Tensor x = empty(shape);
        for (int64_t e = 0; e < x.numel(); e++) x.data<float>()[e] = uniform(rng);
        return x;
    };
    Inputs in;
    in.q = random({T, H, D}), in.k = random({T, Hkv, D}), in.v = random({T, Hkv, D}), in.dout = random({T, H, D});
    in.out = empty({T, H, D}), in.lse = empty({T, H});
    in.dq = zeros({T, H, D}), in.dk = zeros({T, Hkv, D}), in.dv = zeros({T, Hkv, D});
    // packed documents: lengths drawn from [T/16, T/3], the way sample packing fills a row
    std::vector<int32_t> index(T), segment(T, 0);
    std::uniform_int_distribution<int64_t> length(T / 16, T / 3);
    int32_t document = 0;
    for (int64_t t = 0, end = length(rng); t < T; t++) {
        if (kind == packed_documents && t == end) document++, end += length(rng);
        index[t] = static_cast<int32_t>(t);
        segment[t] = document;
    }
    auto i32 = [&](const std::vector<int32_t>& values) { return from_vector(values, {T}); };
    in.mask = {i32(index), i32(segment), i32(index), i32(segment), kind != unmasked};
    int64_t visible = 0;
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++) visible += segment[i] == segment[j] && (kind == unmasked || j <= i);
    in.visible_fraction = static_cast<double>(visible) / (static_cast<double>(T) * T);
    return in;
}

double forward_flops(int64_t T, double visible_fraction) { return 4.0 * T * T * 8 * 64 * visible_fraction; }

void BM_AttentionForward(benchmark::State& state) {
    const int64_t T = state.range(0);
    Inputs in = make_inputs(T, state.range(1));
    const double scale = 0.125;
    for (auto _ : state) backend(in.q).attention_block_forward(in.out, in.lse, in.q, in.k, in.v, in.mask, scale);
    state.SetLabel(mask_name(state.range(1)));
    state.counters["FLOP/s"] = benchmark::Counter(forward_flops(T, in.visible_fraction),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AttentionBackward(benchmark::State& state) {
    const int64_t T = state.range(0);
    Inputs in = make_inputs(T, state.range(1));
    const double scale = 0.125;
    backend(in.q).attention_block_forward(in.out, in.lse, in.q, in.k, in.v, in.mask, scale);
    for (auto _ : state)
        backend(in.q).attention_block_backward(in.dq, in.dk, in.dv, in.dout, in.q, in.k, in.v, in.out, in.lse, in.mask,
                                               scale);
    state.SetLabel(mask_name(state.range(1)));
    state.counters["FLOP/s"] = benchmark::Counter(2.5 * forward_flops(T, in.visible_fraction),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_AttentionForward)
    ->ArgsProduct({{1024, 4096}, {causal, packed_documents, unmasked}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AttentionBackward)
    ->ArgsProduct({{1024, 4096}, {causal, packed_documents, unmasked}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace ringlm
