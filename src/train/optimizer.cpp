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

void queue_adamw_step(AdamW& optimizer, Llama& model, double lr, double loss_tokens, Tensor& sum_squares) {
    require_gradients(model, "adamw_step");
    const AdamWSettings& s = optimizer.settings;
    Backend& b = backend(model.parameters);
    b.dot_to(sum_squares, model.gradients, model.gradients);
    optimizer.step++;
    int64_t offset = 0;
    for (NamedParameter& p : model.named) {
        const int64_t n = p.value.numel();
        Tensor value = model.parameters.rows(offset, offset + n), grad = model.gradients.rows(offset, offset + n);
        Tensor m = optimizer.m.rows(offset, offset + n), v = optimizer.v.rows(offset, offset + n);
        AdamWStep step;
        step.learning_rate = static_cast<float>(lr);
        step.beta1 = static_cast<float>(s.beta1);
        step.beta2 = static_cast<float>(s.beta2);
        step.eps = static_cast<float>(s.eps);
        step.weight_decay = static_cast<float>(p.decay ? s.weight_decay : 0.0);
        step.step = optimizer.step;
        step.gradient_sum_squares = sum_squares;  // clipping and 1 / loss_tokens, gradient_clip.h
        step.max_grad_norm = s.max_grad_norm;
        step.gradient_divisor = loss_tokens;
        b.adamw_update(value, grad, m, v, step);
        offset += n;
    }
    update_bf16_weights(model);  // the bf16 copy the next forward multiplies by
}

double finish_adamw_step(AdamW& optimizer, double sum_squares, double loss_tokens) {
    const double norm = std::sqrt(sum_squares) / loss_tokens;
    if (!std::isfinite(norm)) optimizer.step--;  // skipped on the device
    return norm;
}

double adamw_step(AdamW& optimizer, Llama& model, double lr, double loss_tokens) {
    Tensor& sum_squares = optimizer.gradient_sum_squares;
    if (!sum_squares.defined()) sum_squares = empty({1}, DType::f64, model.parameters.device());
    queue_adamw_step(optimizer, model, lr, loss_tokens, sum_squares);
    Tensor host = empty({1}, DType::f64);
    backend(sum_squares).copy(host, sum_squares);  // waits for the update
    return finish_adamw_step(optimizer, host.data<double>()[0], loss_tokens);
}

}  // namespace ringlm
