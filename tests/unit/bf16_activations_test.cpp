// bf16 activations (config `bf16_activations: true`): the ops between the matmuls read and
// write bf16 and compute in f32; their gradients stay f32. On the CPU backend.
//
// Reference: the same op in f64 on the inputs' bf16 values (each op's f64 path is checked
// against finite differences and naive references in its own test). A bf16 output is the f32
// result rounded once, so every element must lie within half a bf16 ulp (2^-9 relative) of
// the f64 value, plus f32's rounding: the bound below is 2^-8 relative, with a floor of 1e-6
// of the largest value for results that cancel to near zero. An output that skipped the
// rounding, read the wrong element or kept a stale value is far outside it. Gradients are f32
// from the same f32 math: 1e-5 relative.
#include "expect_error.h"
#include "model/llama.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// A random f32 tensor's values rounded to bf16: the bf16 tensor, and its values in f64.
struct Bf16Input {
    Tensor bf16, f64;
};

Bf16Input bf16_input(Shape shape, std::mt19937_64& rng, double low = -1.0, double high = 1.0) {
    const Tensor values = random_uniform(shape, DType::f32, rng, low, high);
    Tensor rounded = empty(shape, DType::bf16);
    backend(values).copy(rounded, values);
    return {rounded, to_dtype(rounded, DType::f64)};
}

// Every element of bf16 `actual` is the rounding of f64 `expected` (within the bound above).
void expect_rounding_of(const Tensor& actual, const Tensor& expected, const char* what, uint64_t seed) {
    ASSERT_EQ(actual.dtype(), DType::bf16) << what;
    ASSERT_EQ(actual.shape(), expected.shape()) << what;
    const std::vector<double> got = to_vector<double>(to_dtype(actual, DType::f64));
    const std::vector<double> want = to_vector<double>(expected);
    const double floor = 1e-6 * max_abs(expected);
    for (size_t i = 0; i < got.size(); i++)
        ASSERT_LE(std::abs(got[i] - want[i]), 0x1p-8 * std::abs(want[i]) + floor)
            << what << " element " << i << ": " << got[i] << " is not bf16(" << want[i] << "), seed " << seed;
}

void expect_f32_close(const Tensor& actual, const Tensor& expected, const char* what, uint64_t seed) {
    ASSERT_EQ(actual.dtype(), DType::f32) << what;
    EXPECT_LE(max_relative_error(actual, expected), 1e-5) << what << ", seed " << seed;
}

// A tape whose watched inputs have their gradients bound (zero buffers of the gradient dtype),
// read by tensor after backward.
struct TapeRun {
    Tape tape;
    Grads grads;
    std::map<uint64_t, Tensor> gradients;
    const Tensor& watch(const Tensor& x) {
        Tensor& gradient = gradients[x.id()] = zeros(x.shape(), gradient_dtype(x.dtype()));
        grads.bind(x, gradient);
        return x;
    }
    const Tensor& gradient(const Tensor& x) const { return gradients.at(x.id()); }
};

}  // namespace

TEST(Bf16Activations, RmsnormWritesBf16FromF32OrBf16) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 19, C = 72;
    const Tensor x32 = random_uniform({T, C}, DType::f32, rng, -2.0, 2.0);
    const Bf16Input x16 = bf16_input({T, C}, rng, -2.0, 2.0);
    const Tensor w = random_uniform({C}, DType::f32, rng, 0.5, 1.5), dy = random_uniform({T, C}, DType::f32, rng);
    for (const Tensor& x : {x32, x16.bf16}) {
        TapeRun bf16;
        Tensor y = rmsnorm(bf16.tape, bf16.watch(x), bf16.watch(w), 1e-5, DType::bf16);
        bf16.tape.backward(y, dy, bf16.grads);
        TapeRun ref;
        const Tensor x64 = to_dtype(x, DType::f64), w64 = to_dtype(w, DType::f64);
        Tensor y64 = rmsnorm(ref.tape, ref.watch(x64), ref.watch(w64), 1e-5);
        ref.tape.backward(y64, to_dtype(dy, DType::f64), ref.grads);
        expect_rounding_of(y, y64, x.dtype() == DType::bf16 ? "y of bf16 x" : "y of f32 x", seed);
        expect_f32_close(bf16.gradient(x), ref.gradient(x64), "dx", seed);
        expect_f32_close(bf16.gradient(w), ref.gradient(w64), "dw", seed);
    }
}

TEST(Bf16Activations, RopeAndSwigluReadAndWriteBf16) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 23, H = 3, D = 16, F = 40;
    const Tensor positions = random_ints({T}, rng, 0, 5000);
    const Bf16Input x = bf16_input({T, H, D}, rng), gate = bf16_input({T, F}, rng, -4.0, 4.0),
                    up = bf16_input({T, F}, rng);
    const Tensor dy_rope = random_uniform({T, H, D}, DType::f32, rng), dy_swiglu = random_uniform({T, F}, DType::f32, rng);

    TapeRun bf16;
    Tensor rotated = rope(bf16.tape, bf16.watch(x.bf16), positions, 10000.0);
    Tensor gated = swiglu(bf16.tape, bf16.watch(gate.bf16), bf16.watch(up.bf16));
    bf16.tape.backward(rotated, dy_rope, bf16.grads);
    bf16.tape.backward(gated, dy_swiglu, bf16.grads);
    TapeRun ref;
    Tensor rotated64 = rope(ref.tape, ref.watch(x.f64), positions, 10000.0);
    Tensor gated64 = swiglu(ref.tape, ref.watch(gate.f64), ref.watch(up.f64));
    ref.tape.backward(rotated64, to_dtype(dy_rope, DType::f64), ref.grads);
    ref.tape.backward(gated64, to_dtype(dy_swiglu, DType::f64), ref.grads);

    expect_rounding_of(rotated, rotated64, "rope y", seed);
    expect_rounding_of(gated, gated64, "swiglu out", seed);
    expect_f32_close(bf16.gradient(x.bf16), ref.gradient(x.f64), "rope dx", seed);
    expect_f32_close(bf16.gradient(gate.bf16), ref.gradient(gate.f64), "swiglu dgate", seed);
    expect_f32_close(bf16.gradient(up.bf16), ref.gradient(up.f64), "swiglu dup", seed);
}

TEST(Bf16Activations, LinearWritesBf16AndTheResidualAddStaysF32) {
    // y = bf16(x @ w^T + b) for a bf16 x; then h = r + y in f32, the residual stream
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 17, in = 40, out = 24;
    const Bf16Input x = bf16_input({T, in}, rng), w = bf16_input({out, in}, rng);
    const Tensor w32 = to_dtype(w.f64, DType::f32), bias = random_uniform({out}, DType::f32, rng);
    const Tensor residual = random_uniform({T, out}, DType::f32, rng), dh = random_uniform({T, out}, DType::f32, rng);

    TapeRun bf16;
    Tensor y = linear(bf16.tape, bf16.watch(x.bf16), bf16.watch(w32), w.bf16, bf16.watch(bias), DType::bf16);
    Tensor h = add(bf16.tape, bf16.watch(residual), y);
    ASSERT_EQ(h.dtype(), DType::f32);
    bf16.tape.backward(h, dh, bf16.grads);
    TapeRun ref;
    const Tensor bias64 = to_dtype(bias, DType::f64);
    Tensor y64 = linear(ref.tape, ref.watch(x.f64), ref.watch(w.f64), Tensor(), ref.watch(bias64));
    ref.tape.backward(y64, to_dtype(dh, DType::f64), ref.grads);

    expect_rounding_of(y, y64, "linear y", seed);
    // h = residual + y exactly as f32 adds them (no second rounding to bf16)
    Tensor h_expected = to_dtype(residual, DType::f64);
    backend(h_expected).axpy(h_expected, to_dtype(y, DType::f64), 1.0);
    EXPECT_LE(max_relative_error(h, h_expected), 1e-7) << "seed " << seed;
    expect_f32_close(bf16.gradient(residual), to_dtype(dh, DType::f64), "dresidual", seed);
    // the backward multiplies bf16(dh): the gradients carry dh's rounding, 2^-9 relative
    EXPECT_LE(max_relative_error(bf16.gradient(x.bf16), ref.gradient(x.f64)), 1e-2) << "dx, seed " << seed;
    EXPECT_LE(max_relative_error(bf16.gradient(w32), ref.gradient(w.f64)), 1e-2) << "dw, seed " << seed;
    expect_f32_close(bf16.gradient(bias), ref.gradient(bias64), "dbias", seed);
}

TEST(Bf16Activations, AttentionReadsBf16AndKeepsLseAndGradientsF32) {
    // packed documents with GQA: the mask and tiling are the kernel's own test; here the
    // dtypes: bf16 q, k, v, out; f32 lse and gradients
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 70, H = 4, Hkv = 2, D = 16;
    const Bf16Input q = bf16_input({T, H, D}, rng, -2.0, 2.0), k = bf16_input({T, Hkv, D}, rng, -2.0, 2.0),
                    v = bf16_input({T, Hkv, D}, rng);
    std::vector<int32_t> index(T), segment(T);
    for (int64_t t = 0; t < T; t++) {
        index[t] = static_cast<int32_t>(t);
        segment[t] = t < 29 ? 0 : 1;
    }
    const Tensor index_t = from_vector(index, {T}), segment_t = from_vector(segment, {T});
    const AttentionMask mask{index_t, segment_t, index_t, segment_t, true, {}, {}};
    const Tensor dout = random_uniform({T, H, D}, DType::f32, rng);
    const double scale = 1.0 / std::sqrt(double(D));

    TapeRun bf16;
    Tensor lse;
    Tensor out = attention(bf16.tape, bf16.watch(q.bf16), bf16.watch(k.bf16), bf16.watch(v.bf16), mask, scale, &lse);
    ASSERT_EQ(lse.dtype(), DType::f32);
    bf16.tape.backward(out, dout, bf16.grads);
    TapeRun ref;
    Tensor lse64;
    Tensor out64 = attention(ref.tape, ref.watch(q.f64), ref.watch(k.f64), ref.watch(v.f64), mask, scale, &lse64);
    ref.tape.backward(out64, to_dtype(dout, DType::f64), ref.grads);

    expect_rounding_of(out, out64, "attention out", seed);
    expect_f32_close(lse, lse64, "lse", seed);
    // delta_i = dout_i . out_i reads the bf16 out: 2^-9 relative in delta, so 1e-2 in the
    // gradients it enters (dq, dk), while dv does not read it
    EXPECT_LE(max_relative_error(bf16.gradient(q.bf16), ref.gradient(q.f64)), 1e-2) << "dq, seed " << seed;
    EXPECT_LE(max_relative_error(bf16.gradient(k.bf16), ref.gradient(k.f64)), 1e-2) << "dk, seed " << seed;
    expect_f32_close(bf16.gradient(v.bf16), ref.gradient(v.f64), "dv", seed);
}

TEST(Bf16Activations, GatherColumnsMovesBf16Bits) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const Bf16Input src = bf16_input({9, 24}, rng);
    Tensor dst = empty({9, 10}, DType::bf16);
    backend(dst).gather_columns(dst, src.bf16, 7);
    for (int64_t r = 0; r < 9; r++)
        for (int64_t c = 0; c < 10; c++)
            ASSERT_EQ(dst.data<bfloat16>()[r * 10 + c].bits, src.bf16.data<bfloat16>()[r * 24 + 7 + c].bits)
                << "row " << r << " column " << c;
}

TEST(Bf16Activations, TinyLlamaStepIsCloseToBf16Matmuls) {
    // A whole model: bf16 activations against bf16 matmuls alone (f32 between the matmuls), the
    // same weights and tokens. Every activation's extra rounding is 2^-9 relative, so the loss
    // agrees to 1e-2 relative and the gradients normwise to 5e-2; a dtype mix-up (a bf16 value
    // read as f32, an output left unwritten) is far outside that.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    ModelConfig config = tiny_model_config(97, 64);
    Llama model = make_llama(config, Device::cpu, ModelUse::training);
    init_llama_weights(model, seed);
    enable_bf16_matmuls(model);
    TokenBatch batch = random_token_sequence(rng, 48, 97);
    for (int64_t t = 0; t + 1 < 48; t++) batch.labels.data<int32_t>()[t] = batch.input_ids.data<int32_t>()[t + 1];

    auto step = [&](bool bf16_activations) {
        ForwardOptions options;
        options.bf16_activations = bf16_activations;
        // every layer's q, k and v arrive in bf16 (the projections, norms and RoPE wrote bf16)
        int64_t bf16_attention_calls = 0;
        options.attention = [&](Tape& t, const Tensor& q, const Tensor& k, const Tensor& v, const TokenBatch& b,
                                double scale, int64_t layer) {
            const DType expected = bf16_activations ? DType::bf16 : DType::f32;
            EXPECT_EQ(q.dtype(), expected);
            EXPECT_EQ(k.dtype(), expected);
            EXPECT_EQ(v.dtype(), expected);
            bf16_attention_calls += q.dtype() == DType::bf16;
            return local_attention(t, q, k, v, b, scale, layer);
        };
        Tape hidden_tape;
        EXPECT_EQ(llama_hidden(hidden_tape, model, batch, options).dtype(), bf16_activations ? DType::bf16 : DType::f32);
        Tape tape;
        Grads grads;
        backend(model.gradients).fill(model.gradients, 0.0);
        bind_gradients(model, grads);
        Tensor losses = llama_token_losses(tape, model, batch, options);
        const double loss = backend(losses).sum(losses) / static_cast<double>(losses.numel());
        Tensor dlosses = empty(losses.shape(), DType::f32);
        backend(dlosses).fill(dlosses, 1.0 / static_cast<double>(losses.numel()));
        tape.backward(losses, dlosses, grads);
        EXPECT_EQ(bf16_attention_calls, bf16_activations ? 2 * config.n_layers : 0);
        return std::make_pair(loss, to_dtype(model.gradients, DType::f64));
    };
    const auto [loss_matmuls, grad_matmuls] = step(false);
    const auto [loss_activations, grad_activations] = step(true);
    EXPECT_NEAR(loss_activations, loss_matmuls, 1e-2 * std::abs(loss_matmuls)) << "seed " << seed;
    const double gradient_error = max_relative_error(grad_activations, grad_matmuls);
    EXPECT_LE(gradient_error, 5e-2) << "seed " << seed;
    EXPECT_GT(gradient_error, 0.0) << "the activations did not change: are they bf16? seed " << seed;
    std::printf("bf16 activations vs bf16 matmuls: loss %.6f vs %.6f, gradients %.2e\n", loss_activations,
                loss_matmuls, gradient_error);
}

TEST(Bf16Activations, RefusedWithoutTheBf16Matmuls) {
    Llama model = make_llama(tiny_model_config(50, 16), Device::cpu, ModelUse::training);
    init_llama_weights(model, 1);
    std::mt19937_64 rng(2);
    const TokenBatch batch = random_token_sequence(rng, 8, 50);
    ForwardOptions options;
    options.bf16_activations = true;
    Tape tape;
    expect_error_naming("llama", [&] { llama_token_losses(tape, model, batch, options); });
    // a bf16 y from an f32 x is refused by name
    expect_error_naming("linear", [&] { linear(tape, zeros({2, 3}), zeros({4, 3}), Tensor(), Tensor(), DType::bf16); });
}

}  // namespace ringlm
