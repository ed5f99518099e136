#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

TEST(RmsNorm, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 5, C = 12;
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return rmsnorm(tape, in[0], in[1], 1e-5); };
    std::vector<Tensor> inputs{random_uniform({T, C}, DType::f64, rng), random_uniform({C}, DType::f64, rng, 0.5, 1.5)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(RmsNorm, RejectsMismatchedWeight) {
    Tape tape;
    EXPECT_THROW(rmsnorm(tape, zeros({4, 8}), zeros({7}), 1e-5), Error);
}

}  // namespace ringlm
