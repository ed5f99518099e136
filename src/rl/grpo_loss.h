// The GRPO policy loss as one autograd op on the per-token losses -log p(token) of the
// completion tokens (llama_token_losses), so backward flows on into the model.
//
// Per completion token t of sequence i, with logp_t = -token_loss_t:
//   ratio_t   = exp(logp_t - logp_old_t)                      (logp_old = logp.detach() when absent: ratio 1)
//   surr_t    = min(ratio_t A_i, clip(ratio_t, 1 - epsilon, 1 + epsilon_high) A_i)
//   kl_t      = exp(ref_t - logp_t) - (ref_t - logp_t) - 1    (k3 estimator; only when beta > 0)
//   l_t       = -(surr_t - beta kl_t)
//   loss      = sum_t weight_t l_t
// weight_t is the loss_type's normaliser (grpo_token_weight), already GLOBAL (over SP chunks,
// DP groups and micro batches), so summing every rank's loss gives the batch's loss.
// Gradient (d/d logp, then d/d token_loss = -d/d logp):
//   d surr/d logp = ratio A when the unclipped term is the minimum (ties included), else 0
//   d kl/d logp   = 1 - exp(ref - logp)
#pragma once

#include "autograd/tape.h"
#include "config/config.h"

#include <vector>

namespace ringlm {

struct GrpoLossSettings {
    double epsilon = 0.2, epsilon_high = 0.2, beta = 0.0;
};

// Per token of this rank's batch. weight 0 = no loss (prompt, padding, chunks' ends).
struct GrpoTokenInputs {
    std::vector<double> weight;
    std::vector<double> advantage;
    std::vector<float> old_logp;  // empty: logp.detach()
    std::vector<float> ref_logp;  // empty: no KL term (beta must be 0)
};

// Sums over this rank's completion tokens, for metrics (reduce them over the world).
struct GrpoLossStatistics {
    double tokens = 0;        // completion tokens
    double kl_sum = 0;        // sum of kl_t (0 without a reference)
    double clipped = 0;       // tokens where clipping took effect: ratio < 1-eps with A < 0, or > 1+eps_high with A > 0
};

// The normaliser of every completion token of a sequence with `sequence_tokens` completion
// tokens, in a global batch of `total_sequences` sequences and `total_tokens` completion tokens:
//   grpo:    1 / (total_sequences x sequence_tokens)   (mean per sequence, then over sequences)
//   bnpo:    1 / total_tokens                          (mean over all tokens of the batch)
//   dr_grpo: 1 / (total_sequences x max_completion_length)
double grpo_token_weight(GrpoLossType loss_type, int64_t sequence_tokens, int64_t total_sequences,
                         int64_t total_tokens, int64_t max_completion_length);

// token_losses: f32 [T] on the host. Returns [1].
Tensor grpo_loss(Tape& tape, const Tensor& token_losses, const GrpoTokenInputs& inputs,
                 const GrpoLossSettings& settings, GrpoLossStatistics* statistics = nullptr);

}  // namespace ringlm
