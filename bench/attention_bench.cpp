// The attention block kernels at a Llama-like shape: H 8, Hkv 2 (GQA), D 64, T in {1024, 4096},
// for three masks: causal, causal over packed documents, and unmasked (bidirectional).
// FLOP/s counter: bench_util.h's attention_forward_flops over the (query, key) pairs visible
// under the mask; backward 2.5x the forward.
#include "backend/backend.h"
#include "bench_util.h"

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
    double forward_flops = 0;
};

Inputs make_inputs(int64_t T, int64_t kind) {
    const int64_t H = 8, Hkv = 2, D = 64;
    std::mt19937_64 rng(1);
    auto random = [&](Shape shape) { return uniform_tensor(shape, rng); };
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
    in.mask = {i32(index), i32(segment), i32(index), i32(segment), kind != unmasked, {}, {}};
    in.forward_flops = attention_forward_flops(visible_pairs(segment, kind != unmasked), H, D);
    return in;
}

void BM_AttentionForward(benchmark::State& state) {
    Inputs in = make_inputs(state.range(0), state.range(1));
    const double scale = 0.125;
    for (auto _ : state) backend(in.q).attention_block_forward(in.out, in.lse, in.q, in.k, in.v, in.mask, scale);
    state.SetLabel(mask_name(state.range(1)));
    state.counters["FLOP/s"] = benchmark::Counter(in.forward_flops,
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AttentionBackward(benchmark::State& state) {
    Inputs in = make_inputs(state.range(0), state.range(1));
    const double scale = 0.125;
    backend(in.q).attention_block_forward(in.out, in.lse, in.q, in.k, in.v, in.mask, scale);
    for (auto _ : state)
        backend(in.q).attention_block_backward(in.dq, in.dk, in.dv, in.dout, in.q, in.k, in.v, in.out, in.lse, in.mask,
                                               scale);
    state.SetLabel(mask_name(state.range(1)));
    state.counters["FLOP/s"] = benchmark::Counter(attention_backward_flop_ratio * in.forward_flops,
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
