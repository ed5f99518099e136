// One GRPO update's gradients on a batch of rollouts (this DP group's, the same on every SP
// rank): the rollouts are cut into micro batches of micro_batch_size rows, each row
// prompt + completion with labels -100 on the prompt (make_token_batch: the SAME SP chunking,
// position ids and ring attention as SFT), each rank scores only its chunk, and grpo_loss
// weighs every completion token with its global normaliser. The caller all-reduces the
// gradients and the returned sums over the world; nothing else needs a collective.
#pragma once

#include "parallel/chunk_layout.h"
#include "model/llama.h"
#include "rl/grpo_loss.h"
#include "rl/prompts.h"
#include "rl/rollout.h"

#include <vector>

namespace ringlm {

struct GrpoBatchLayout {
    int64_t micro_batch_size = 1;
    SequenceLayout sequence;     // this rank's chunking
    const ForwardOptions* forward = nullptr;  // attention (ring when S > 1), checkpointing
};

// The normaliser's global counts (grpo_token_weight).
struct GrpoNormaliser {
    GrpoLossType loss_type = GrpoLossType::grpo;
    int64_t total_sequences = 0;  // sequences of the global batch (all DP groups)
    int64_t total_tokens = 0;     // completion tokens of the global batch
    int64_t max_completion_length = 1;
};

// Micro batch `micro` (rollouts [micro x B, micro x B + B)) as this rank feeds it to the model.
TokenBatch rollout_token_batch(const std::vector<Prompt>& prompts, const std::vector<Rollout>& rollouts, int64_t micro,
                               const GrpoBatchLayout& layout);
int64_t rollout_micro_batches(const std::vector<Rollout>& rollouts, const GrpoBatchLayout& layout);

// log p of every token of this rank's chunk, per micro batch (inference mode): the reference
// model's for the KL term, or the policy's before its first update for num_iterations > 1.
std::vector<std::vector<float>> score_rollouts(const Llama& model, const std::vector<Prompt>& prompts,
                                               const std::vector<Rollout>& rollouts, const GrpoBatchLayout& layout);

struct GrpoLocalResult {
    double loss = 0;  // this rank's share of the batch loss
    GrpoLossStatistics statistics;
};

// Zeroes model.gradients, then forward + grpo_loss + backward of every micro batch.
// old_logps / ref_logps: from score_rollouts, or null (ratio 1 / no KL).
GrpoLocalResult grpo_local_gradients(Llama& model, const std::vector<Prompt>& prompts,
                                     const std::vector<Rollout>& rollouts, const std::vector<double>& advantages,
                                     const GrpoBatchLayout& layout, const GrpoNormaliser& normaliser,
                                     const GrpoLossSettings& settings,
                                     const std::vector<std::vector<float>>* old_logps,
                                     const std::vector<std::vector<float>>* ref_logps);

}  // namespace ringlm
