#include "rl/grpo_loss.h"

#include "backend/backend.h"
#include "ops/check.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>

namespace ringlm {

double grpo_token_weight(GrpoLossType loss_type, int64_t sequence_tokens, int64_t total_sequences,
                         int64_t total_tokens, int64_t max_completion_length) {
    switch (loss_type) {
        case GrpoLossType::grpo: return 1.0 / (static_cast<double>(total_sequences) * static_cast<double>(sequence_tokens));
        case GrpoLossType::bnpo: return 1.0 / static_cast<double>(total_tokens);
        case GrpoLossType::dr_grpo:
            return 1.0 / (static_cast<double>(total_sequences) * static_cast<double>(max_completion_length));
    }
    return 0.0;
}

namespace {

std::vector<double> host_values(const Tensor& x) {
    if (x.dtype() == DType::f64) return to_vector<double>(x);
    const std::vector<float> values = to_vector<float>(x);
    return std::vector<double>(values.begin(), values.end());
}

Tensor host_tensor(const std::vector<double>& values, DType dtype) {
    const Shape shape{static_cast<int64_t>(values.size())};
    if (dtype == DType::f64) return from_vector<double>(values, shape);
    return from_vector<float>(std::vector<float>(values.begin(), values.end()), shape);
}

}  // namespace

Tensor grpo_loss(Tape& tape, const Tensor& token_losses, const GrpoTokenInputs& inputs,
                 const GrpoLossSettings& settings, GrpoLossStatistics* statistics) {
    if (!token_losses.defined() || token_losses.device() != Device::cpu || token_losses.shape().rank != 1)
        fail("grpo_loss: token_losses must be a host vector [T]");
    check_floating("grpo_loss", {&token_losses});
    const size_t T = static_cast<size_t>(token_losses.numel());
    if (inputs.weight.size() != T || inputs.advantage.size() != T || (!inputs.old_logp.empty() && inputs.old_logp.size() != T) ||
        (!inputs.ref_logp.empty() && inputs.ref_logp.size() != T))
        fail("grpo_loss: {} tokens but {} weights, {} advantages, {} old and {} reference log-probs", T,
             inputs.weight.size(), inputs.advantage.size(), inputs.old_logp.size(), inputs.ref_logp.size());
    if (settings.beta > 0 && inputs.ref_logp.empty()) fail("grpo_loss: beta {} > 0 needs reference log-probs", settings.beta);
    const bool with_kl = settings.beta > 0;

    const std::vector<double> losses = host_values(token_losses);
    // d loss / d token_loss_t, computed with the forward (it needs the same quantities).
    std::vector<double> gradient(T, 0.0);
    double loss = 0;
    GrpoLossStatistics local;
    for (size_t t = 0; t < T; t++) {
        if (inputs.weight[t] == 0) continue;
        const double logp = -losses[t], A = inputs.advantage[t];
        const double old = inputs.old_logp.empty() ? logp : inputs.old_logp[t];
        const double ratio = std::exp(logp - old);
        const double clipped_ratio = std::clamp(ratio, 1.0 - settings.epsilon, 1.0 + settings.epsilon_high);
        const double unclipped_term = ratio * A, clipped_term = clipped_ratio * A;
        const bool unclipped_is_min = unclipped_term <= clipped_term;
        const double surrogate = unclipped_is_min ? unclipped_term : clipped_term;
        double d_logp = -(unclipped_is_min ? ratio * A : 0.0);  // d l_t / d logp_t
        double per_token = -surrogate;
        if (with_kl) {
            const double difference = inputs.ref_logp[t] - logp;
            const double kl = std::exp(difference) - difference - 1.0;
            per_token += settings.beta * kl;
            d_logp += settings.beta * (1.0 - std::exp(difference));
            local.kl_sum += kl;
        }
        loss += inputs.weight[t] * per_token;
        gradient[t] = -inputs.weight[t] * d_logp;  // logp = -token_loss
        local.tokens += 1;
        local.clipped += ((ratio < 1.0 - settings.epsilon && A < 0) || (ratio > 1.0 + settings.epsilon_high && A > 0)) ? 1 : 0;
    }
    if (statistics) *statistics = local;

    Tensor result = host_tensor({loss}, token_losses.dtype());
    Tensor gradient_tensor = host_tensor(gradient, token_losses.dtype());
    tape.record("grpo_loss", result, [token_losses, gradient_tensor](Grads& grads, const Tensor& dy) {
        const double upstream = host_values(dy)[0];
        backend(token_losses).axpy(grads.of(token_losses), gradient_tensor, upstream);
    });
    return result;
}

}  // namespace ringlm
