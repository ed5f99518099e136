#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

TEST(Sum, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return sum(tape, in[0]); };
    std::vector<Tensor> inputs{random_uniform({4, 6}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Sum, ForwardIsOneElementAndBackwardSpreadsTheSeed) {
    Tensor x = from_vector<double>({1.5, -2, 3, 0.25, 4, -1}, {2, 3});
    Tape tape;
    Tensor s = sum(tape, x);
    ASSERT_EQ(s.shape(), (Shape{1}));
    EXPECT_EQ(s.data<double>()[0], 5.75);
    Grads grads;
    grads.of(x);
    tape.backward(s, from_vector<double>({-3}, {1}), grads);
    EXPECT_EQ(to_vector<double>(*grads.find(x)), std::vector<double>(6, -3.0));
}

TEST(Sum, RejectsNonFloating) {
    Tape tape;
    expect_error_naming("sum", [&] { sum(tape, zeros({4}, DType::i32)); });
}

}  // namespace ringlm
