// The vectorisable kernels of issue 8's speed work: exp_f32 against libm in double, and the
// kernels that now use it or were restructured (SwiGLU, cross-entropy, RMSNorm's dw over
// several column blocks) in f32 against the same ops in f64.
#include "backend/cpu/vector_exp.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ringlm {
using namespace ringlm::testing;

TEST(VectorExp, WithinTwoUlpOfLibmOverItsRange) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-87.3f, 88.3f);
    double worst = 0;
    float worst_x = 0;
    for (int i = 0; i < 200000; i++) {
        // every 4th draw near 0, where softmax and sigmoid arguments live
        const float x = i % 4 == 0 ? uniform(rng) / 64.0f : uniform(rng);
        const double expected = std::exp(static_cast<double>(x));
        const double error = std::abs(static_cast<double>(exp_f32(x)) - expected) / expected;
        if (error > worst) {
            worst = error;
            worst_x = x;
        }
    }
    // 2 ulp of a float, relative: 2 * 2^-23
    EXPECT_LE(worst, 2.0 * 0x1p-23) << "at x = " << worst_x << ", seed " << seed;
    EXPECT_EQ(exp_f32(0.0f), 1.0f);
    EXPECT_EQ(exp_f32(-100.0f), 0.0f);  // below the normal range: flushed to 0
    EXPECT_EQ(exp_f32(-std::numeric_limits<float>::infinity()), 0.0f);
    EXPECT_EQ(exp_f32(100.0f), std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(exp_f32(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_EQ(vector_exp(1.5), std::exp(1.5));  // f64 is libm's
}

TEST(VectorExp, SwigluF32MatchesF64WithLargeGates) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return swiglu(tape, in[0], in[1]); };
    // gates up to +-30: sigmoid saturates on both sides; 3 x 100 elements cover the vector
    // body and its remainder
    std::vector<Tensor> inputs{random_uniform({3, 100}, DType::f64, rng, -30.0, 30.0),
                               random_uniform({3, 100}, DType::f64, rng)};
    GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(VectorExp, RmsNormF32MatchesF64OverSeveralColumnBlocks) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return rmsnorm(tape, in[0], in[1], 1e-5); };
    // 200 columns: three full blocks of 64 for dw and a partial one of 8
    std::vector<Tensor> inputs{random_uniform({37, 200}, DType::f64, rng),
                               random_uniform({200}, DType::f64, rng, 0.5, 1.5)};
    GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

}  // namespace ringlm
