#include "expect_error.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Three AdamW steps by the backend in `dtype` against the formula of backend.h written out in
// f64 for every element; returns the worst relative error over param, m and v.
double adamw_three_steps_error(DType dtype, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const int64_t n = 40000;  // past the kernel's threading threshold, so the parallel loop runs
    AdamWStep settings;
    settings.learning_rate = 0.01f;  // large enough that an error in the update would show in p
    settings.beta1 = 0.9f;
    settings.beta2 = 0.95f;
    settings.eps = 1e-8f;
    settings.weight_decay = 0.1f;
    settings.grad_scale = 0.25f;

    // Values exactly representable in f32, so both runs start from the same numbers.
    Tensor param = to_dtype(random_uniform({n}, DType::f32, rng), DType::f64);
    std::vector<Tensor> grads;
    for (int step = 0; step < 3; step++)
        grads.push_back(to_dtype(random_uniform({n}, DType::f32, rng, -2, 2), DType::f64));

    std::vector<double> p = to_vector<double>(param), m(n, 0.0), v(n, 0.0);
    for (int64_t t = 1; t <= 3; t++) {
        const double b1 = settings.beta1, b2 = settings.beta2, lr = settings.learning_rate;
        for (int64_t i = 0; i < n; i++) {
            const double g = grads[t - 1].data<double>()[i] * static_cast<double>(settings.grad_scale);
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            const double m_hat = m[i] / (1 - std::pow(b1, t));
            const double v_hat = v[i] / (1 - std::pow(b2, t));
            p[i] -= lr * (m_hat / (std::sqrt(v_hat) + settings.eps) + settings.weight_decay * p[i]);
        }
    }

    Tensor param_d = to_dtype(param, dtype), m_d = zeros({n}, dtype), v_d = zeros({n}, dtype);
    for (int64_t t = 1; t <= 3; t++) {
        settings.step = t;
        backend(param_d).adamw_update(param_d, to_dtype(grads[t - 1], dtype), m_d, v_d, settings);
    }
    return std::max({max_relative_error(param_d, from_vector(p, {n})), max_relative_error(m_d, from_vector(m, {n})),
                     max_relative_error(v_d, from_vector(v, {n}))});
}

}  // namespace

TEST(AdamW, ThreeStepsWithWeightDecayMatchTheFormula) {
    const uint64_t seed = fresh_seed();
    EXPECT_LE(adamw_three_steps_error(DType::f64, seed), 1e-13) << "f64, seed " << seed;
    EXPECT_LE(adamw_three_steps_error(DType::f32, seed), 1e-6) << "f32, seed " << seed;
}

// Clipping decided by the kernel from a gradient sum of squares (AdamWStep::gradient_sum_squares)
// gives the bits of the same step with the scale computed beforehand by torch's rule written
// out here: clip = max / norm when norm > max, scale = clip / divisor. Norms below and above
// the limit, and no limit; a NaN or infinite sum skips the update.
TEST(AdamW, ClippingOnTheDeviceEqualsTheScaleWorkedOutBefore) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t n = 30000;
    const Tensor param = random_uniform({n}, DType::f32, rng), grad = random_uniform({n}, DType::f32, rng, -3, 3);
    const double divisor = 37.0;
    const double sum_squares = backend(grad).dot(grad, grad);
    const double norm = std::sqrt(sum_squares) / divisor;
    auto copy_of = [](const Tensor& x) {
        Tensor copy = empty_like(x);
        backend(x).copy(copy, x);
        return copy;
    };
    for (const double max_norm : {0.0, norm * 2.0, norm / 3.0}) {
        AdamWStep step;
        step.learning_rate = 0.01f;
        step.weight_decay = 0.1f;
        step.step = 2;
        Tensor p_scaled = copy_of(param), m_scaled = zeros({n}), v_scaled = zeros({n});
        const double clip = max_norm > 0 && norm > max_norm ? max_norm / norm : 1.0;
        step.grad_scale = static_cast<float>(clip / divisor);
        backend(param).adamw_update(p_scaled, grad, m_scaled, v_scaled, step);

        Tensor p_device = copy_of(param), m_device = zeros({n}), v_device = zeros({n});
        step.grad_scale = 123.0f;  // ignored when the sum of squares is given
        step.gradient_sum_squares = from_vector(std::vector<double>{sum_squares}, {1});
        step.max_grad_norm = max_norm;
        step.gradient_divisor = divisor;
        backend(param).adamw_update(p_device, grad, m_device, v_device, step);
        EXPECT_EQ(to_vector<float>(p_device), to_vector<float>(p_scaled)) << "max norm " << max_norm << ", seed " << seed;
        EXPECT_EQ(to_vector<float>(m_device), to_vector<float>(m_scaled)) << "max norm " << max_norm;
        EXPECT_EQ(to_vector<float>(v_device), to_vector<float>(v_scaled)) << "max norm " << max_norm;
        EXPECT_NE(to_vector<float>(p_device), to_vector<float>(param)) << "the step did nothing";
    }
    for (const double bad : {NAN, INFINITY}) {
        AdamWStep step;
        step.gradient_sum_squares = from_vector(std::vector<double>{bad}, {1});
        step.max_grad_norm = 1.0;
        Tensor p = copy_of(param), m = zeros({n}), v = zeros({n});
        backend(param).adamw_update(p, grad, m, v, step);
        EXPECT_EQ(to_vector<float>(p), to_vector<float>(param)) << "sum of squares " << bad << ": skipped";
        EXPECT_EQ(to_vector<float>(m), std::vector<float>(n, 0.0f));
    }
}

TEST(AdamW, RejectsMismatchedStateAndStepZero) {
    Tensor param = zeros({8}), grad = zeros({8}), m = zeros({8}), v = zeros({8});
    Tensor short_m = zeros({7}), m64 = zeros({8}, DType::f64);
    AdamWStep settings;
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, short_m, v, settings); });
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, m64, v, settings); });
    settings.step = 0;
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, m, v, settings); });
    settings.step = 1;
    settings.gradient_sum_squares = zeros({1});  // f32: the sum of squares is f64
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, m, v, settings); });
}

}  // namespace ringlm
