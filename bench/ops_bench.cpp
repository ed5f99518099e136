// Memory-bound kernels at the shapes of a small Llama layer (2048 tokens, hidden 512, 8 heads
// of 64, MLP 1376); the counter is bytes/s of the bytes each call must move at least (every
// operand read once, every output written once; accumulated gradients read and written).
#include "backend/backend.h"
#include "ops/ops.h"

#include <benchmark/benchmark.h>

namespace ringlm {

namespace {

void report_bytes(benchmark::State& state, double bytes_per_call) {
    state.counters["bytes/s"] = benchmark::Counter(bytes_per_call, benchmark::Counter::kIsIterationInvariantRate);
}

Tensor filled(Shape shape, double value) {
    Tensor t = empty(shape);
    backend(t).fill(t, value);
    return t;
}

// 0, 1, 2, ...: positions of one contiguous sequence
Tensor positions(int64_t tokens) {
    Tensor t = empty({tokens}, DType::i32);
    for (int64_t i = 0; i < tokens; i++) t.data<int32_t>()[i] = static_cast<int32_t>(i);
    return t;
}

}  // namespace

static void BM_RmsNormForward(benchmark::State& state) {
    const int64_t T = state.range(0), C = state.range(1);
    Tensor x = filled({T, C}, 0.5), w = filled({C}, 1.0), y = empty({T, C}), inv_rms = empty({T});
    for (auto _ : state) backend(x).rmsnorm_forward(y, inv_rms, x, w, 1e-5);
    report_bytes(state, 4.0 * (2 * T * C + C + T));  // x, w in; y, inv_rms out
}
BENCHMARK(BM_RmsNormForward)->Args({2048, 512})->Unit(benchmark::kMicrosecond);

static void BM_RmsNormBackward(benchmark::State& state) {
    const int64_t T = state.range(0), C = state.range(1);
    Tensor x = filled({T, C}, 0.5), w = filled({C}, 1.0), dy = filled({T, C}, 0.1), inv_rms = filled({T}, 2.0);
    Tensor dx = filled({T, C}, 0.0), dw = filled({C}, 0.0);
    for (auto _ : state) backend(x).rmsnorm_backward(dx, dw, dy, x, w, inv_rms);
    report_bytes(state, 4.0 * (4 * T * C + 3 * C + T));  // dy, x, w, inv_rms in; dx, dw read and written
}
BENCHMARK(BM_RmsNormBackward)->Args({2048, 512})->Unit(benchmark::kMicrosecond);

static void BM_RopeForward(benchmark::State& state) {
    const int64_t T = state.range(0), H = state.range(1), D = state.range(2);
    Tensor x = filled({T, H, D}, 0.5), y = empty({T, H, D}), position_ids = positions(T);
    const RopeFrequencies frequencies = default_rope_frequencies(500000.0, D);
    for (auto _ : state) backend(x).rope_forward(y, x, position_ids, frequencies.inverse_frequency, 1.0);
    report_bytes(state, 4.0 * (2 * T * H * D + T));  // x, positions in; y out
}
BENCHMARK(BM_RopeForward)->Args({2048, 8, 64})->Unit(benchmark::kMicrosecond);

static void BM_RopeBackward(benchmark::State& state) {
    const int64_t T = state.range(0), H = state.range(1), D = state.range(2);
    Tensor dy = filled({T, H, D}, 0.5), dx = filled({T, H, D}, 0.0), position_ids = positions(T);
    const RopeFrequencies frequencies = default_rope_frequencies(500000.0, D);
    for (auto _ : state) backend(dy).rope_backward(dx, dy, position_ids, frequencies.inverse_frequency, 1.0);
    report_bytes(state, 4.0 * (3 * T * H * D + T));  // dy, positions in; dx read and written
}
BENCHMARK(BM_RopeBackward)->Args({2048, 8, 64})->Unit(benchmark::kMicrosecond);

static void BM_SwigluForward(benchmark::State& state) {
    const int64_t T = state.range(0), F = state.range(1);
    Tensor gate = filled({T, F}, 0.5), up = filled({T, F}, -0.25), out = empty({T, F});
    for (auto _ : state) backend(gate).swiglu_forward(out, gate, up);
    report_bytes(state, 4.0 * 3 * T * F);  // gate, up in; out out
}
BENCHMARK(BM_SwigluForward)->Args({2048, 1376})->Unit(benchmark::kMicrosecond);

static void BM_SwigluBackward(benchmark::State& state) {
    const int64_t T = state.range(0), F = state.range(1);
    Tensor gate = filled({T, F}, 0.5), up = filled({T, F}, -0.25), dout = filled({T, F}, 0.1);
    Tensor dgate = filled({T, F}, 0.0), dup = filled({T, F}, 0.0);
    for (auto _ : state) backend(gate).swiglu_backward(dgate, dup, dout, gate, up);
    report_bytes(state, 4.0 * 7 * T * F);  // dout, gate, up in; dgate, dup read and written
}
BENCHMARK(BM_SwigluBackward)->Args({2048, 1376})->Unit(benchmark::kMicrosecond);

static void BM_AdamW(benchmark::State& state) {
    const int64_t n = state.range(0);
    Tensor param = filled({n}, 0.5), grad = filled({n}, 0.01), m = filled({n}, 0.0), v = filled({n}, 0.0);
    AdamWStep step;
    step.weight_decay = 0.1f;
    for (auto _ : state) {
        backend(param).adamw_update(param, grad, m, v, step);
        step.step++;
    }
    report_bytes(state, 4.0 * 7 * n);  // grad in; param, m, v read and written
}
BENCHMARK(BM_AdamW)->Arg(1 << 22)->Unit(benchmark::kMicrosecond);

}  // namespace ringlm
