// AdamW over the model's contiguous buffers. The moments m and v are two more buffers laid
// out like the parameters, carved into the same named views. Gradients arrive as SUMS over
// the loss tokens of the global batch; the optimizer folds 1/tokens (and the clipping factor)
// into its step instead of rescaling the gradient buffer.
#pragma once

#include "backend/backend.h"
#include "model/llama.h"

namespace ringlm {

struct AdamWSettings {
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    double max_grad_norm = 1.0;  // 0: no clipping
};

struct AdamW {
    AdamWSettings settings;
    Tensor m, v;  // [n_parameters]
    Tensor gradient_sum_squares;  // f64 [1] on the parameters' device, written each step
    int64_t step = 0;  // updates done
};

AdamW make_adamw(const Llama& model, const AdamWSettings& settings);

// || gradients / loss_tokens ||_2 over all parameters (the global norm, before clipping).
double gradient_norm(const Llama& model, double loss_tokens);

// One update with learning rate lr. Returns the gradient norm before clipping. The clipping
// factor is worked out on the parameters' device from the gradient's sum of squares, so the
// update is queued without waiting for the gradients; the norm is read back after it (the one
// wait). A non-finite norm skips the update there: nothing changes, the step is not counted,
// and the norm returned says why.
double adamw_step(AdamW& optimizer, Llama& model, double lr, double loss_tokens);

}  // namespace ringlm
