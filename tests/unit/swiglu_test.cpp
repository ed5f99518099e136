#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

TEST(Swiglu, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 5, F = 12;
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return swiglu(tape, in[0], in[1]); };
    // gates over the range where silu bends, on both sides of 0
    std::vector<Tensor> inputs{random_uniform({T, F}, DType::f64, rng, -5, 5), random_uniform({T, F}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Swiglu, ForwardMatchesFormulaIncludingSaturatedGates) {
    // silu(a) = a / (1 + e^-a); at a = -100 e^100 is huge and f32 e^-a overflows: still finite
    std::vector<double> gate{-100, -20, -1, 0, 0.5, 3, 20, 100};
    std::vector<double> up{1, 2, -3, 4, -5, 6, 7, -8};
    Tape tape(Tape::Mode::inference);
    for (DType dtype : {DType::f64, DType::f32}) {
        Tensor out = swiglu(tape, to_dtype(from_vector(gate, {2, 4}), dtype), to_dtype(from_vector(up, {2, 4}), dtype));
        Tensor expected = empty({2, 4}, DType::f64);
        for (size_t i = 0; i < gate.size(); i++)
            expected.data<double>()[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
        EXPECT_TRUE(all_finite(out)) << dtype_name(dtype);
        EXPECT_LE(max_relative_error(out, expected), dtype == DType::f64 ? 1e-15 : 1e-6) << dtype_name(dtype);
    }
}

TEST(Swiglu, UsedTwiceAccumulatesGradients) {
    // The op applied twice to the same inputs: the second backward must add to the first
    // (backward kernels accumulate), or the gradient comes out halved.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) {
        return add(tape, swiglu(tape, in[0], in[1]), swiglu(tape, in[0], in[1]));
    };
    std::vector<Tensor> inputs{random_uniform({3, 4}, DType::f64, rng, -4, 4), random_uniform({3, 4}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Swiglu, RejectsMismatchedShapesAndDtypes) {
    Tape tape;
    expect_error_naming("swiglu", [&] { swiglu(tape, zeros({4, 6}), zeros({4, 5})); });
    expect_error_naming("swiglu", [&] { swiglu(tape, zeros({4, 6}), zeros({4, 6}, DType::f64)); });
    expect_error_naming("swiglu", [&] { swiglu(tape, zeros({24}), zeros({24})); });
}

}  // namespace ringlm
