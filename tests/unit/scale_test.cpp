#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

TEST(Scale, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return scale(tape, in[0], -0.37); };
    std::vector<Tensor> inputs{random_uniform({4, 6}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Scale, ForwardLeavesInputAlone) {
    Tensor x = from_vector<double>({1, -2, 3}, {3});
    Tape tape(Tape::Mode::inference);
    Tensor y = scale(tape, x, 2.5);
    EXPECT_EQ(to_vector<double>(y), (std::vector<double>{2.5, -5, 7.5}));
    EXPECT_EQ(to_vector<double>(x), (std::vector<double>{1, -2, 3}));
}

TEST(Scale, RejectsNonFloating) {
    Tape tape;
    expect_error_naming("scale", [&] { scale(tape, zeros({4}, DType::i32), 2.0); });
    expect_error_naming("scale", [&] { scale(tape, Tensor(), 2.0); });
}

}  // namespace ringlm
