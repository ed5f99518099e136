#include "train/optimizer.h"

#include <cmath>

namespace ringlm {

AdamW make_adamw(const Llama& model, const AdamWSettings& settings) {
    require_gradients(model, "make_adamw");
    AdamW optimizer;
    optimizer.settings = settings;
    optimizer.m = zeros_like(model.parameters);
    optimizer.v = zeros_like(model.parameters);
    return optimizer;
}

double gradient_norm(const Llama& model, double loss_tokens) {
    require_gradients(model, "gradient_norm");
    const double sum_squares = backend(model.gradients).dot(model.gradients, model.gradients);
    return std::sqrt(sum_squares) / loss_tokens;
}

double adamw_step(AdamW& optimizer, Llama& model, double lr, double loss_tokens) {
    require_gradients(model, "adamw_step");
    const AdamWSettings& s = optimizer.settings;
    const double norm = gradient_norm(model, loss_tokens);
    // Clipping: scale the whole gradient so its norm is at most max_grad_norm.
    const double clip = s.max_grad_norm > 0 && norm > s.max_grad_norm ? s.max_grad_norm / norm : 1.0;
    optimizer.step++;
    Backend& b = backend(model.parameters);
    int64_t offset = 0;
    for (NamedParameter& p : model.named) {
        const int64_t n = p.value.numel();
        Tensor value = model.parameters.rows(offset, offset + n), grad = model.gradients.rows(offset, offset + n);
        Tensor m = optimizer.m.rows(offset, offset + n), v = optimizer.v.rows(offset, offset + n);
        AdamWStep step{static_cast<float>(lr), static_cast<float>(s.beta1), static_cast<float>(s.beta2),
                       static_cast<float>(s.eps), static_cast<float>(p.decay ? s.weight_decay : 0.0),
                       static_cast<float>(clip / loss_tokens), optimizer.step};
        b.adamw_update(value, grad, m, v, step);
        offset += n;
    }
    update_bf16_weights(model);  // the bf16 copy the next forward multiplies by
    return norm;
}

}  // namespace ringlm
