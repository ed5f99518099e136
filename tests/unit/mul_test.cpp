#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

TEST(Mul, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return mul(tape, in[0], in[1]); };
    std::vector<Tensor> inputs{random_uniform({4, 6}, DType::f64, rng), random_uniform({4, 6}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Mul, SquareGetsBothContributions) {
    // y = x * x: dx = 2 x dy
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return mul(tape, in[0], in[0]); };
    GradientCheck check = check_gradients_f64(op, {random_uniform({3, 5}, DType::f64, rng)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Mul, RejectsMismatchedShapesAndDtypes) {
    Tape tape;
    expect_error_naming("mul", [&] { mul(tape, zeros({4, 6}), zeros({4, 5})); });
    expect_error_naming("mul", [&] { mul(tape, zeros({4, 6}, DType::f64), zeros({4, 6})); });
}

}  // namespace ringlm
