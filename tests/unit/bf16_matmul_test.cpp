// The bf16 matmuls of mixed-precision training (config `bf16: true`): to_bf16, linear and the
// LM head's cross_entropy with bf16 inputs and f32 accumulation, on the CPU backend.
//
// Reference: the inputs rounded to bf16 by this file's own round-to-nearest-even (bit
// arithmetic, sharing nothing with the library's conversion), then an f64 triple loop. The
// products of two bf16 values are exact in f32, so the op differs from that reference only by
// f32 summation: 1e-5 relative. Against the f32 op on the unrounded inputs the difference is
// bf16's rounding (2^-9 relative per operand): 1e-2.
#include "expect_error.h"
#include "naive_matmul.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Round to nearest, ties to even, keeping the top 16 bits of the f32 pattern; as f64.
double round_to_bf16(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    const uint32_t kept = bits >> 16, dropped = bits & 0xffffu;
    uint32_t rounded = kept;
    if (dropped > 0x8000u || (dropped == 0x8000u && (kept & 1u))) rounded = kept + 1;
    const uint32_t result_bits = rounded << 16;
    float result;
    std::memcpy(&result, &result_bits, 4);
    return result;
}

// f64 values of an f32 tensor rounded to bf16.
std::vector<double> rounded(const Tensor& x) {
    std::vector<double> values;
    for (float v : to_vector<float>(x)) values.push_back(round_to_bf16(v));
    return values;
}

Tensor as_f64(const std::vector<double>& values, Shape shape) { return from_vector(values, shape); }

struct LinearRun {
    Tensor y, dx, dw;
};

// y = linear(x, w) and the gradients of sum(y * dy), in bf16 or f32; each input used `uses`
// times (the gradients of every use accumulate).
LinearRun run_linear(const Tensor& x, const Tensor& w, const Tensor& dy, bool in_bf16, int uses = 1) {
    Tape tape;
    Grads grads;
    Tensor dx = zeros_like(x), dw = zeros_like(w);
    grads.bind(x, dx);
    grads.bind(w, dw);
    Tensor w_bf16 = empty(w.shape(), DType::bf16);
    backend(w).copy(w_bf16, w);
    Tensor y;
    for (int use = 0; use < uses; use++) {
        Tensor one = in_bf16 ? linear(tape, to_bf16(tape, x), w, w_bf16) : linear(tape, x, w);
        y = use == 0 ? one : add(tape, y, one);
    }
    tape.backward(y, dy, grads);
    return {y, dx, dw};
}

}  // namespace

TEST(Bf16, ToBf16RoundsToNearestEven) {
    // ties: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 (odd last bit): down to 1;
    // 1 + 3 * 2^-8 halfway between 1 + 2^-7 and 1 + 2^-6: up to the even 1 + 2^-6
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Tensor x = random_uniform({1000}, DType::f32, rng, -3.0, 3.0);
    float* p = x.data<float>();
    p[0] = 1.0f + 0x1p-8f;
    p[1] = 1.0f + 3 * 0x1p-8f;
    p[2] = -(1.0f + 0x1p-8f);
    p[3] = 0.0f;
    p[4] = 1e-40f;  // subnormal
    Tape tape;
    Tensor y = to_bf16(tape, x);
    ASSERT_EQ(y.dtype(), DType::bf16);
    EXPECT_EQ(from_bfloat16(y.data<bfloat16>()[0]), 1.0f);
    EXPECT_EQ(from_bfloat16(y.data<bfloat16>()[1]), 1.0f + 0x1p-6f);
    const std::vector<double> expected = rounded(x);
    for (int64_t i = 0; i < x.numel(); i++)
        ASSERT_EQ(static_cast<double>(from_bfloat16(y.data<bfloat16>()[i])), expected[i])
            << "element " << i << " = " << p[i] << ", seed " << seed;
    // the gradient passes back unchanged, in f32
    Grads grads;
    Tensor dy = random_uniform({1000}, DType::f32, rng);
    Tape sum_tape;
    Tensor y2 = to_bf16(sum_tape, x);
    sum_tape.backward(y2, dy, grads);
    ASSERT_NE(grads.find(x), nullptr);
    EXPECT_EQ(to_vector<float>(*grads.find(x)), to_vector<float>(dy));
}

TEST(Bf16, LinearMatchesF64OnRoundedInputs) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 37, in = 48, out = 29;
    Tensor x = random_uniform({T, in}, DType::f32, rng), w = random_uniform({out, in}, DType::f32, rng);
    Tensor dy = random_uniform({T, out}, DType::f32, rng);
    const LinearRun run = run_linear(x, w, dy, true);
    ASSERT_EQ(run.y.dtype(), DType::f32);

    // y = x @ w^T, dx = dy @ w, dw = dy^T @ x, every operand rounded to bf16 (dy too: the
    // backward multiplies bf16(dy))
    const std::vector<double> xr = rounded(x), wr = rounded(w), dyr = rounded(dy);
    Tensor y_ref = as_f64(naive_matmul(xr.data(), wr.data(), T, out, in, false, true), {T, out});
    Tensor dx_ref = as_f64(naive_matmul(dyr.data(), wr.data(), T, in, out, false, false), {T, in});
    Tensor dw_ref = as_f64(naive_matmul(dyr.data(), xr.data(), out, in, T, true, false), {out, in});
    EXPECT_LE(max_relative_error(run.y, y_ref), 1e-5) << "y, seed " << seed;
    EXPECT_LE(max_relative_error(run.dx, dx_ref), 1e-5) << "dx, seed " << seed;
    EXPECT_LE(max_relative_error(run.dw, dw_ref), 1e-5) << "dw, seed " << seed;

    // against the f32 op on the unrounded inputs: bf16's rounding, no more
    const LinearRun exact = run_linear(x, w, dy, false);
    const double y_error = max_relative_error(run.y, exact.y), dx_error = max_relative_error(run.dx, exact.dx),
                 dw_error = max_relative_error(run.dw, exact.dw);
    EXPECT_LE(y_error, 1e-2) << "seed " << seed;
    EXPECT_LE(dx_error, 1e-2) << "seed " << seed;
    EXPECT_LE(dw_error, 1e-2) << "seed " << seed;
    // and not suspiciously exact: the bf16 path really rounds
    EXPECT_GE(y_error, 1e-4) << "the bf16 linear looks like an f32 one, seed " << seed;
    std::printf("bf16 linear vs f32: y %.2e, dx %.2e, dw %.2e\n", y_error, dx_error, dw_error);
}

TEST(Bf16, LinearUsedTwiceAccumulatesInF32) {
    // Two uses of x and w: dx and dw receive two contributions each, accumulated (gemm beta 1)
    // into the f32 gradients, which equal twice one use's.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Tensor x = random_uniform({9, 16}, DType::f32, rng), w = random_uniform({7, 16}, DType::f32, rng);
    Tensor dy = random_uniform({9, 7}, DType::f32, rng);
    const LinearRun once = run_linear(x, w, dy, true, 1), twice = run_linear(x, w, dy, true, 2);
    Tensor dx2 = to_dtype(once.dx, DType::f64), dw2 = to_dtype(once.dw, DType::f64);
    backend(dx2).scale(dx2, 2.0);
    backend(dw2).scale(dw2, 2.0);
    EXPECT_LE(max_relative_error(twice.dx, dx2), 1e-6) << "seed " << seed;
    EXPECT_LE(max_relative_error(twice.dw, dw2), 1e-6) << "seed " << seed;
}

TEST(Bf16, CrossEntropyHeadInBf16) {
    // The LM head: f32 logits from bf16 hidden and classifier. Forward: the f32 op on the
    // rounded inputs (the same products, exact in f32); gradients: within bf16 tolerance of
    // the f32 op on the unrounded inputs (the backward also rounds dlogits to bf16).
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 45, C = 24, V = 70;
    Tensor hidden = random_uniform({T, C}, DType::f32, rng), classifier = random_uniform({V, C}, DType::f32, rng);
    Tensor labels = random_ints({T}, rng, 0, static_cast<int32_t>(V));
    labels.data<int32_t>()[3] = -100;
    Tensor dlosses = random_uniform({T}, DType::f32, rng, 0.5, 1.5);
    Tensor classifier_bf16 = empty({V, C}, DType::bf16);
    backend(classifier).copy(classifier_bf16, classifier);

    auto run = [&](const Tensor& h, const Tensor& w, bool in_bf16) {
        Tape tape;
        Grads grads;
        Tensor dh = zeros_like(h), dw = zeros_like(w);
        grads.bind(h, dh);
        grads.bind(w, dw);
        Tensor losses = in_bf16 ? cross_entropy(tape, to_bf16(tape, h), w, labels, 16, classifier_bf16)
                                : cross_entropy(tape, h, w, labels, 16);
        tape.backward(losses, dlosses, grads);
        return LinearRun{losses, dh, dw};
    };
    const LinearRun bf16 = run(hidden, classifier, true);
    ASSERT_EQ(bf16.y.dtype(), DType::f32);
    Tensor hidden_rounded = to_dtype(as_f64(rounded(hidden), {T, C}), DType::f32);
    Tensor classifier_rounded = to_dtype(as_f64(rounded(classifier), {V, C}), DType::f32);
    const LinearRun on_rounded = run(hidden_rounded, classifier_rounded, false);
    EXPECT_LE(max_relative_error(bf16.y, on_rounded.y), 1e-5) << "losses, seed " << seed;
    const LinearRun exact = run(hidden, classifier, false);
    EXPECT_LE(max_relative_error(bf16.y, exact.y), 1e-2) << "losses, seed " << seed;
    EXPECT_LE(max_relative_error(bf16.dx, exact.dx), 1e-2) << "dhidden, seed " << seed;
    EXPECT_LE(max_relative_error(bf16.dw, exact.dw), 1e-2) << "dclassifier, seed " << seed;
}

TEST(Bf16, RejectsMissingOrMismatchedBf16Weights) {
    Tape tape;
    Tensor x = to_bf16(tape, zeros({4, 6}));
    expect_error_naming("linear", [&] { linear(tape, x, zeros({5, 6})); });
    expect_error_naming("linear", [&] { linear(tape, x, zeros({5, 6}), zeros({5, 6})); });
    expect_error_naming("linear", [&] { linear(tape, x, zeros({5, 6}), zeros({6, 5}, DType::bf16)); });
    expect_error_naming("to_bf16", [&] { to_bf16(tape, zeros({3}, DType::f64)); });
    expect_error_naming("cross_entropy", [&] { cross_entropy(tape, x, zeros({5, 6}), zeros({4}, DType::i32)); });
    // the backend's gemm: bf16 operands take bf16 a and b and an f32 c
    Tensor c = zeros({4, 4}, DType::f64);
    expect_error_naming("gemm", [&] { backend(x).gemm(c, x, x, false, true, 1.0, 0.0); });
}

}  // namespace ringlm
