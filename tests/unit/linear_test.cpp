#include "expect_error.h"
#include "naive_matmul.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

namespace {
Tensor linear_op(Tape& tape, const std::vector<Tensor>& in) { return linear(tape, in[0], in[1]); }
}  // namespace

TEST(Linear, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 4, in = 6, out = 5;
    std::vector<Tensor> inputs{random_uniform({T, in}, DType::f64, rng), random_uniform({out, in}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(linear_op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(linear_op, inputs, {0, 1}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Linear, BiasGradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 5, in = 6, out = 7;
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return linear(tape, in[0], in[1], Tensor(), in[2]); };
    std::vector<Tensor> inputs{random_uniform({T, in}, DType::f64, rng), random_uniform({out, in}, DType::f64, rng),
                               random_uniform({out}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1, 2}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1, 2}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Linear, BiasAddsToEveryRow) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 3, in = 4, out = 2;
    Tensor x = random_uniform({T, in}, DType::f64, rng), w = random_uniform({out, in}, DType::f64, rng);
    Tensor b = random_uniform({out}, DType::f64, rng);
    Tape tape(Tape::Mode::inference);
    Tensor y = linear(tape, x, w, Tensor(), b);
    std::vector<double> expected = naive_matmul(x.data<double>(), w.data<double>(), T, out, in, false, true);
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < out; o++) expected[t * out + o] += b.data<double>()[o];
    EXPECT_LE(max_relative_error(y, from_vector(expected, {T, out})), 1e-14) << "seed " << seed;
}

TEST(Linear, ForwardUsesTheOutByInWeightLayout) {
    // y = x @ w^T with w [out, in], as PyTorch's nn.Linear (checkpoints depend on it)
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 3, in = 4, out = 2;
    Tensor x = random_uniform({T, in}, DType::f64, rng), w = random_uniform({out, in}, DType::f64, rng);
    Tape tape(Tape::Mode::inference);
    Tensor y = linear(tape, x, w);
    ASSERT_EQ(y.shape(), (Shape{T, out}));
    std::vector<double> expected = naive_matmul(x.data<double>(), w.data<double>(), T, out, in, false, true);
    EXPECT_LE(max_relative_error(y, from_vector(expected, {T, out})), 1e-14) << "seed " << seed;
}

TEST(Linear, UsedTwiceAccumulatesGradients) {
    // The op applied twice to the same inputs: the second backward must add to the first
    // (backward kernels accumulate), or the gradient comes out halved.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) {
        return add(tape, linear(tape, in[0], in[1]), linear(tape, in[0], in[1]));
    };
    std::vector<Tensor> inputs{random_uniform({3, 4}, DType::f64, rng), random_uniform({5, 4}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Linear, RejectsMismatchedShapesAndDtypes) {
    Tape tape;
    expect_error_naming("linear", [&] { linear(tape, zeros({4, 6}), zeros({5, 7})); });
    expect_error_naming("linear", [&] { linear(tape, zeros({4, 6}), zeros({6})); });
    expect_error_naming("linear", [&] { linear(tape, zeros({4, 6}), zeros({5, 6}, DType::f64)); });
    expect_error_naming("linear", [&] { linear(tape, zeros({4, 6}), zeros({5, 6}), Tensor(), zeros({6})); });
}

}  // namespace ringlm
