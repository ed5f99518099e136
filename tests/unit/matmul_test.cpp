#include "expect_error.h"
#include "naive_matmul.h"
#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

namespace {


// Random a, b in f64 for op(a) [M, K] @ op(b) [K, N] (per batch item).
std::vector<Tensor> random_operands(Layout layout, bool transpose_a, bool transpose_b, std::mt19937_64& rng) {
    const int64_t batch = 2, M = 3, N = 4, K = 5;
    const Shape a_item = transpose_a ? Shape{K, M} : Shape{M, K};
    const Shape b_item = transpose_b ? Shape{N, K} : Shape{K, N};
    const bool batched = layout != Layout::single;
    return {random_uniform(batched ? Shape{batch, a_item[0], a_item[1]} : a_item, DType::f64, rng),
            random_uniform(layout == Layout::batched ? Shape{batch, b_item[0], b_item[1]} : b_item, DType::f64, rng)};
}

}  // namespace

TEST(Matmul, GradientsMatchFiniteDifferencesForEveryTransposeAndLayout) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    for (Layout layout : {Layout::single, Layout::batched, Layout::shared_b}) {
        for (bool transpose_a : {false, true}) {
            for (bool transpose_b : {false, true}) {
                auto op = [=](Tape& tape, const std::vector<Tensor>& in) {
                    return matmul(tape, in[0], in[1], transpose_a, transpose_b);
                };
                const std::string where = fmt::format("{} transpose_a={} transpose_b={}, seed {}", layout_name(layout),
                                                      transpose_a, transpose_b, seed);
                std::vector<Tensor> inputs = random_operands(layout, transpose_a, transpose_b, rng);
                GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
                EXPECT_LE(check.max_error, 1e-6) << check.worst << ", " << where;
                GradientCheck precision = check_f32_against_f64(op, inputs, {0, 1}, rng);
                EXPECT_LE(precision.max_error, 1e-5) << precision.worst << ", " << where;
            }
        }
    }
}

TEST(Matmul, SameTensorOnBothSidesGetsBothContributions) {
    // c = a @ a^T: the gradient of a is the sum of the two operand gradients
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [](Tape& tape, const std::vector<Tensor>& in) { return matmul(tape, in[0], in[0], false, true); };
    GradientCheck check = check_gradients_f64(op, {random_uniform({3, 4}, DType::f64, rng)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Matmul, ForwardMatchesNaiveLoops) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    for (bool transpose_a : {false, true}) {
        for (bool transpose_b : {false, true}) {
            std::vector<Tensor> in = random_operands(Layout::batched, transpose_a, transpose_b, rng);
            Tape tape(Tape::Mode::inference);
            Tensor c = matmul(tape, in[0], in[1], transpose_a, transpose_b);
            ASSERT_EQ(c.shape(), (Shape{2, 3, 4}));
            for (int64_t item = 0; item < 2; item++) {
                const double* a_item = in[0].data<double>() + item * 15;  // 3 x 5 or 5 x 3
                const double* b_item = in[1].data<double>() + item * 20;  // 5 x 4 or 4 x 5
                std::vector<double> expected = naive_matmul(a_item, b_item, 3, 4, 5, transpose_a, transpose_b);
                EXPECT_LE(max_relative_error(c.rows(item, item + 1), from_vector(expected, {1, 3, 4})), 1e-14)
                    << "transpose_a=" << transpose_a << " transpose_b=" << transpose_b << ", seed " << seed;
            }
        }
    }
}

TEST(Matmul, UsedTwiceAccumulatesGradients) {
    // The op applied twice to the same inputs: the second backward must add to the first
    // (backward kernels accumulate), or the gradient comes out halved.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    auto op = [&](Tape& tape, const std::vector<Tensor>& in) {
        return add(tape, matmul(tape, in[0], in[1], true, true), matmul(tape, in[0], in[1], true, true));
    };
    std::vector<Tensor> inputs{random_uniform({2, 4, 3}, DType::f64, rng), random_uniform({5, 4}, DType::f64, rng)};
    GradientCheck check = check_gradients_f64(op, inputs, {0, 1}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(Matmul, RejectsMismatchedShapesAndDtypes) {
    Tape tape;
    expect_error_naming("matmul", [&] { matmul(tape, zeros({3, 5}), zeros({4, 6})); });               // inner sizes
    expect_error_naming("matmul", [&] { matmul(tape, zeros({3, 5}), zeros({6, 5})); });               // b^T needed
    expect_error_naming("matmul", [&] { matmul(tape, zeros({2, 3, 5}), zeros({3, 5, 4})); });        // batch sizes
    expect_error_naming("matmul", [&] { matmul(tape, zeros({3, 5}), zeros({2, 5, 4})); });           // 2-D a, 3-D b
    expect_error_naming("matmul", [&] { matmul(tape, zeros({5}), zeros({5, 4})); });                 // 1-D a
    expect_error_naming("matmul", [&] { matmul(tape, zeros({3, 5}), zeros({5, 4}, DType::f64)); });  // dtypes
}

}  // namespace ringlm
