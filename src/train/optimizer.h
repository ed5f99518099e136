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

// One update with learning rate lr, queued without the host waiting: the gradient's sum of
// squares goes into `sum_squares` (f64 [1] on the parameters' device) and AdamW works out the
// clipping factor from it there. A non-finite norm skips the update on the device: nothing
// changes. Then finish_adamw_step with the sum read back.
void queue_adamw_step(AdamW& optimizer, Llama& model, double lr, double loss_tokens, Tensor& sum_squares);
// The gradient norm before clipping, from the sum of squares read back; when it is not finite
// the update was skipped, so the step is not counted.
double finish_adamw_step(AdamW& optimizer, double sum_squares, double loss_tokens);
// Both, the sum read back in between (one wait). Returns the gradient norm before clipping.
double adamw_step(AdamW& optimizer, Llama& model, double lr, double loss_tokens);

}  // namespace ringlm
