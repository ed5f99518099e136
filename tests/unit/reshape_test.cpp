#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

// reshape hands the gradient back without copying; through a following op (so the gradient
// of the view is not trivially the upstream one) it must still match finite differences.
TEST(Reshape, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) {
        Tensor y = reshape(tape, in[0], {4, 6});
        return rmsnorm(tape, y, in[1], 1e-5);
    };
    std::vector<Tensor> inputs{random_uniform({2, 3, 4}, DType::f64, rng), random_uniform({6}, DType::f64, rng, 0.5, 1.5)};
    EXPECT_LE(check_gradients_f64(op, inputs, {0, 1}, rng).max_error, 1e-6) << "seed " << seed;
    EXPECT_LE(check_f32_against_f64(op, inputs, {0, 1}, rng).max_error, 1e-5) << "seed " << seed;
}

TEST(Reshape, RejectsAnotherElementCount) {
    Tape tape;
    EXPECT_THROW(reshape(tape, zeros({4, 6}), {5, 5}), Error);
}

}  // namespace ringlm
