// CPU AdamW (Loshchilov & Hutter, decoupled weight decay), elementwise over the parameter:
//   g = grad * grad_scale;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * p )
// The arithmetic is in double and rounded once on store: it is memory bound either way, and
// the f32 master weights then match an f64 reference to the last bit or two.
#include "backend/cpu/cpu_backend.h"
#include "backend/gradient_clip.h"

#include <cmath>

namespace ringlm {

void CpuBackend::adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) {
    // The optimizer calls this directly (there is no op in front of it), so it checks here.
    auto matches_param = [&](const Tensor& t) { return t.shape() == param.shape() && t.dtype() == param.dtype(); };
    if (!matches_param(grad) || !matches_param(m) || !matches_param(v))
        fail("adamw_update: param {}, grad {}, m {}, v {} must share one shape and dtype", param.describe(),
             grad.describe(), m.describe(), v.describe());
    if (step.step < 1)
        fail("adamw_update: step {} must count from 1 (the bias correction divides by 1-b^t)", step.step);
    if (step.gradient_sum_squares.defined() &&
        (step.gradient_sum_squares.dtype() != DType::f64 || step.gradient_sum_squares.numel() != 1))
        fail("adamw_update: gradient_sum_squares is {}, expected f64 [1]", step.gradient_sum_squares.describe());
    dispatch_floating("adamw_update", param.dtype(), [&]<typename T>(T) {
        const int64_t n = param.numel();
        const double beta1 = step.beta1, beta2 = step.beta2;
        const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step.step));
        const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step.step));
        const double learning_rate = step.learning_rate, eps = step.eps, weight_decay = step.weight_decay;
        double grad_scale = step.grad_scale;
        if (step.gradient_sum_squares.defined()) {
            const double norm = std::sqrt(step.gradient_sum_squares.data<double>()[0]) / step.gradient_divisor;
            if (!std::isfinite(norm)) return;  // skipped: nothing changes
            grad_scale = clipped_gradient_scale(norm, step.max_grad_norm, step.gradient_divisor);
        }
        T* p = param.data<T>();
        const T* g_p = grad.data<T>();
        T* m_p = m.data<T>();
        T* v_p = v.data<T>();
#pragma omp parallel for schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            const double g = static_cast<double>(g_p[i]) * grad_scale;
            const double m_new = beta1 * m_p[i] + (1.0 - beta1) * g;
            const double v_new = beta2 * v_p[i] + (1.0 - beta2) * g * g;
            const double m_hat = m_new / bias_correction1;
            const double v_hat = v_new / bias_correction2;
            const double p_old = p[i];
            m_p[i] = static_cast<T>(m_new);
            v_p[i] = static_cast<T>(v_new);
            p[i] = static_cast<T>(p_old - learning_rate * (m_hat / (std::sqrt(v_hat) + eps) + weight_decay * p_old));
        }
    });
}

}  // namespace ringlm
