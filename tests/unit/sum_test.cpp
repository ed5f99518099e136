#include "backend/cpu/cpu_threads.h"
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

// Gradient clipping's sum of squares: the same bits at 1, 2, 3 and 4 threads, over sizes around
// the 65536-term block (an OpenMP reduction would group its per-thread sums by thread count and
// add them in the order the threads finish).
TEST(Sum, SumAndDotAreTheSameBitsAtEveryThreadCount) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int threads_before = cpu_threads();
    for (int64_t n : {int64_t{1000}, int64_t{65536}, int64_t{65537}, int64_t{3 * 65536 + 17}, int64_t{1 << 20}}) {
        Tensor a = random_uniform({n}, DType::f32, rng);
        Tensor b = random_uniform({n}, DType::f32, rng);
        // reference, the documented order: in each block of 65536 terms, lane i mod 8 sums its
        // terms in order, the 8 lanes are added in lane order, then the blocks in block order
        double blocks_total = 0;
        for (int64_t start = 0; start < n; start += 65536) {
            double lanes[8] = {};
            for (int64_t i = start; i < std::min(n, start + 65536); i++)
                lanes[i % 8] += static_cast<double>(a.data<float>()[i]) * static_cast<double>(b.data<float>()[i]);
            double block = 0;
            for (double lane : lanes) block += lane;
            blocks_total += block;
        }
        for (int threads : {1, 2, 3, 4}) {
            set_cpu_threads(threads);
            const double dot = backend(a).dot(a, b);
            EXPECT_EQ(dot, blocks_total) << "n " << n << ", " << threads << " threads, seed " << seed;
            double serial_sum = 0;
            for (int64_t i = 0; i < n; i++) serial_sum += static_cast<double>(a.data<float>()[i]);
            EXPECT_NEAR(backend(a).sum(a), serial_sum, 1e-12 * static_cast<double>(n))
                << "n " << n << ", " << threads << " threads, seed " << seed;
            if (threads == 1) continue;
            set_cpu_threads(1);
            const double sum_one_thread = backend(a).sum(a);
            set_cpu_threads(threads);
            EXPECT_EQ(backend(a).sum(a), sum_one_thread) << "n " << n << ", " << threads << " threads, seed " << seed;
        }
    }
    set_cpu_threads(threads_before);
}

}  // namespace ringlm
