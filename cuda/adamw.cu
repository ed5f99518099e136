// One AdamW step (decoupled weight decay), the gradient scale folded in:
//   g = grad * grad_scale;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * p )
#include "common.cuh"
#include "kernels.h"

#include "backend/gradient_clip.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

// The arithmetic is in double and rounded once on store, as on the CPU: memory bound either
// way, and the f32 master weights then agree with the CPU's to the last bit or two.
__global__ void adamw_kernel(float* param, const float* grad, float* m, float* v, int64_t n, AdamWArgs args) {
    double grad_scale = args.grad_scale;
    if (args.gradient_sum_squares) {  // clipping decided here, by the host's formula
        const double norm = sqrt(*args.gradient_sum_squares) / args.gradient_divisor;
        if (!isfinite(norm)) return;  // skipped: nothing changes
        grad_scale = clipped_gradient_scale(norm, args.max_grad_norm, args.gradient_divisor);
    }
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const double g = double(grad[i]) * grad_scale;
        const double m_new = args.beta1 * double(m[i]) + (1.0 - args.beta1) * g;
        const double v_new = args.beta2 * double(v[i]) + (1.0 - args.beta2) * g * g;
        const double m_hat = m_new / args.bias_correction1;
        const double v_hat = v_new / args.bias_correction2;
        const double p_old = param[i];
        m[i] = float(m_new);
        v[i] = float(v_new);
        param[i] = float(p_old - args.learning_rate * (m_hat / (sqrt(v_hat) + args.eps) + args.weight_decay * p_old));
    }
}

}  // namespace

void adamw_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamWArgs& args,
                  cudaStream_t stream) {
    if (n == 0) return;
    adamw_kernel<<<grid_for(n, threads), threads, 0, stream>>>(param, grad, m, v, n, args);
    CUDA_CHECK_LAUNCH("adamw_kernel");
}

}  // namespace ringlm::kernels
