#include "expect_error.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

TEST(Softmax, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return softmax(tape, in[0]); };
    std::vector<Tensor> inputs{random_uniform({2, 3, 7}, DType::f64, rng, -3, 3)};
    GradientCheck check = check_gradients_f64(op, inputs, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
    GradientCheck precision = check_f32_against_f64(op, inputs, {0}, rng);
    EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", seed " << seed;
}

TEST(Softmax, ForwardMatchesFormulaAndSurvivesLargeLogits) {
    // Logits near +-1000 overflow or underflow exp() unless the row maximum is subtracted first;
    // softmax is shift invariant, so the reference is the formula applied to the unshifted logits.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t rows = 4, C = 9;
    Tensor centred = random_uniform({rows, C}, DType::f64, rng, -5, 5);
    // A first element far below the rest: subtracting any element but the maximum overflows.
    for (int64_t r = 0; r < rows; r++) centred.data<double>()[r * C] = -800.0;
    Tensor expected = empty({rows, C}, DType::f64);
    Tensor shifted = empty({rows, C}, DType::f64);
    for (int64_t r = 0; r < rows; r++) {
        double total = 0;
        for (int64_t c = 0; c < C; c++) total += std::exp(centred.data<double>()[r * C + c]);
        for (int64_t c = 0; c < C; c++) {
            expected.data<double>()[r * C + c] = std::exp(centred.data<double>()[r * C + c]) / total;
            shifted.data<double>()[r * C + c] = centred.data<double>()[r * C + c] + (r % 2 ? 1000.0 : -1000.0);
        }
    }
    Tape tape(Tape::Mode::inference);
    EXPECT_LE(max_relative_error(softmax(tape, centred), expected), 1e-14) << "seed " << seed;
    for (DType dtype : {DType::f64, DType::f32}) {
        Tensor y = softmax(tape, to_dtype(shifted, dtype));
        ASSERT_TRUE(all_finite(y)) << dtype_name(dtype) << ", seed " << seed;
        // f32 holds 1000 + x to ~3e-5 absolute, which is the relative error of its probabilities
        EXPECT_LE(max_relative_error(y, expected), dtype == DType::f64 ? 1e-12 : 2e-4) << dtype_name(dtype);
    }
}

TEST(Softmax, UsedTwiceAccumulatesGradients) {
    // The op applied twice to the same inputs: the second backward must add to the first
    // (backward kernels accumulate), or the gradient comes out halved.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) {
        return add(tape, softmax(tape, in[0]), softmax(tape, in[0]));
    };
    GradientCheck check = check_gradients_f64(op, {random_uniform({3, 5}, DType::f64, rng)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Softmax, RejectsNonFloating) {
    Tape tape;
    expect_error_naming("softmax", [&] { softmax(tape, zeros({3, 4}, DType::i32)); });
    expect_error_naming("softmax", [&] { softmax(tape, zeros({3, 0})); });
}

}  // namespace ringlm
