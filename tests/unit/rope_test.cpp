#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Rotary embedding written from the paper's complex form: feature pair p of a head, taken as
// the complex number (x[first(p)] + i x[second(p)]), is multiplied by exp(i position theta^(-2p/D)).
// Hugging Face pairs feature p with p + D/2 ("rotate halves"); the original paper and Meta's
// reference code pair 2p with 2p+1 ("interleaved"). Checkpoints converted for HF expect halves.
Tensor naive_rope(const Tensor& x, const Tensor& position_ids, double theta, bool interleaved) {
    const int64_t T = x.size(0), H = x.size(1), D = x.size(2);
    Tensor x64 = to_dtype(x, DType::f64);
    Tensor y = empty(x.shape(), DType::f64);
    for (int64_t t = 0; t < T; t++) {
        for (int64_t h = 0; h < H; h++) {
            const double* in = x64.data<double>() + (t * H + h) * D;
            double* out = y.data<double>() + (t * H + h) * D;
            for (int64_t p = 0; p < D / 2; p++) {
                const int64_t first = interleaved ? 2 * p : p, second = interleaved ? 2 * p + 1 : p + D / 2;
                const double angle = position_ids.data<int32_t>()[t] / std::pow(theta, 2.0 * p / D);
                const std::complex<double> pair(in[first], in[second]);
                const std::complex<double> rotated = pair * std::polar(1.0, angle);
                out[first] = rotated.real();
                out[second] = rotated.imag();
            }
        }
    }
    return y;
}

}  // namespace

TEST(Rope, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 5, H = 2, D = 8;
    Tensor position_ids = random_ints({T}, rng, 0, 4096);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) { return rope(tape, in[0], position_ids, 10000.0); };
    std::vector<Tensor> inputs{random_uniform({T, H, D}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

// A scaling rule's table (any values) and YaRN's factor on cos and sin: the op reads the table
// it is given, forward (against the complex form) and backward.
TEST(Rope, ReadsTheGivenTableAndScale) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 5, H = 2, D = 8;
    const Tensor position_ids = random_ints({T}, rng, 0, 4096);
    const Tensor table = random_uniform({D / 2}, DType::f64, rng, 0.0, 1.0);
    const double scale = 1.0 + 0.5 * random_uniform({1}, DType::f64, rng).data<double>()[0];
    const RopeFrequencies frequencies{table, scale};
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) { return rope(tape, in[0], position_ids, frequencies); };
    std::vector<Tensor> inputs{random_uniform({T, H, D}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;

    Tensor expected = empty({T, H, D}, DType::f64);
    const double* x = inputs[0].data<double>();
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t p = 0; p < D / 2; p++) {
                const int64_t at = (t * H + h) * D;
                const std::complex<double> rotated =
                    std::complex<double>(x[at + p], x[at + p + D / 2]) *
                    std::polar(scale, position_ids.data<int32_t>()[t] * table.data<double>()[p]);
                expected.data<double>()[at + p] = rotated.real();
                expected.data<double>()[at + p + D / 2] = rotated.imag();
            }
    Tape tape(Tape::Mode::inference);
    EXPECT_LE(max_relative_error(rope(tape, inputs[0], position_ids, frequencies), expected), 1e-14) << "seed " << seed;
}

TEST(Rope, MatchesRotateHalvesAndNotInterleavedPairs) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 6, H = 3, D = 16;
    const double theta = 500000.0;  // Llama 3's base
    // long-context positions: the angles are large, so an angle computed in f32 would show
    Tensor position_ids = random_ints({T}, rng, 0, 131072);
    position_ids.data<int32_t>()[0] = 0;  // position 0 is the identity
    Tensor x = random_uniform({T, H, D}, DType::f64, rng);
    Tensor halves = naive_rope(x, position_ids, theta, false);
    Tensor interleaved = naive_rope(x, position_ids, theta, true);

    Tape tape(Tape::Mode::inference);
    Tensor y64 = rope(tape, x, position_ids, theta);
    Tensor y32 = rope(tape, to_dtype(x, DType::f32), position_ids, theta);
    // an angle near 1e5 rad carries ~1e-11 rad of rounding whichever way it is computed
    EXPECT_LE(max_relative_error(y64, halves), 1e-10) << "seed " << seed;
    EXPECT_LE(max_relative_error(y32, halves), 1e-6) << "seed " << seed;
    for (int64_t e = 0; e < H * D; e++) EXPECT_EQ(y64.data<double>()[e], x.data<double>()[e]) << "position 0";
    // the test can tell the layouts apart: the interleaved result is far from ours
    EXPECT_GE(max_relative_error(y64, interleaved), 0.1) << "seed " << seed;
}

TEST(Rope, BackwardUndoesForward) {
    // R(-angle) R(angle) = I, so feeding y back as the upstream gradient returns x
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 4, H = 2, D = 6;
    Tensor position_ids = random_ints({T}, rng, 0, 1000);
    Tensor x = random_uniform({T, H, D}, DType::f64, rng);
    Tape tape;
    Tensor y = rope(tape, x, position_ids, 10000.0);
    Grads grads;
    grads.of(x);
    tape.backward(y, y, grads);
    EXPECT_LE(max_relative_error(*grads.find(x), x), 1e-14) << "seed " << seed;
}

TEST(Rope, UsedTwiceAccumulatesGradients) {
    // The op applied twice to the same inputs: the second backward must add to the first
    // (backward kernels accumulate), or the gradient comes out halved.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    Tensor position_ids = random_ints({3}, rng, 0, 100);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) {
        return add(tape, rope(tape, in[0], position_ids, 10000.0), rope(tape, in[0], position_ids, 10000.0));
    };
    GradientCheck check = check_gradients_f64(op, {random_uniform({3, 2, 4}, DType::f64, rng)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Rope, RejectsBadInput) {
    Tape tape;
    Tensor positions = zeros({4}, DType::i32);
    expect_error_naming("rope", [&] { rope(tape, zeros({4, 2, 7}), positions, 10000.0); });          // odd D
    expect_error_naming("rope", [&] { rope(tape, zeros({4, 2, 8}), zeros({5}, DType::i32), 1e4); }); // T differs
    expect_error_naming("rope", [&] { rope(tape, zeros({4, 2, 8}), zeros({4}), 10000.0); });         // f32 positions
    expect_error_naming("rope", [&] { rope(tape, zeros({4, 16}), positions, 10000.0); });            // not [T, H, D]
    expect_error_naming("rope", [&] { rope(tape, zeros({4, 2, 8}, DType::i32), positions, 1e4); });  // integer x
}

}  // namespace ringlm
