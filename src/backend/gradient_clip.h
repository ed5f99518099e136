// Clipping by the global gradient norm (torch.nn.utils.clip_grad_norm_): with
//   norm = sqrt(sum of every squared gradient) / divisor      (divisor: the batch's loss tokens)
// the gradient is scaled by clip = max_norm / norm when max_norm > 0 and norm > max_norm, else
// by 1, and AdamW reads it times 1 / divisor. One formula for the host and the GPU (constexpr:
// cuda/ compiles with --expt-relaxed-constexpr), so both give the same bits.
#pragma once

namespace ringlm {

constexpr double gradient_clip_factor(double norm, double max_norm) {
    return max_norm > 0 && norm > max_norm ? max_norm / norm : 1.0;
}

// AdamWStep::grad_scale for a gradient of this norm: clip / divisor, as the f32 the kernels read.
constexpr float clipped_gradient_scale(double norm, double max_norm, double divisor) {
    return static_cast<float>(gradient_clip_factor(norm, max_norm) / divisor);
}

}  // namespace ringlm
