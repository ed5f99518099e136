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

TEST(AdamW, RejectsMismatchedStateAndStepZero) {
    Tensor param = zeros({8}), grad = zeros({8}), m = zeros({8}), v = zeros({8});
    Tensor short_m = zeros({7}), m64 = zeros({8}, DType::f64);
    AdamWStep settings;
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, short_m, v, settings); });
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, m64, v, settings); });
    settings.step = 0;
    expect_error_naming("adamw_update", [&] { backend(param).adamw_update(param, grad, m, v, settings); });
}

}  // namespace ringlm
