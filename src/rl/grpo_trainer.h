// `ringlm grpo`: the GRPO loop (TRL's GRPOTrainer, sequence-parallel). Per step:
//   1. the repeat sampler picks this DP group's prompts (each G times);
//   2. rollouts: the SP ranks split the sampling, then all-gather (rollout.h);
//   3. rewards (rewards.h) and group advantages (advantages.h), identical on the SP ranks;
//   4. reference log-probs (beta > 0) and old log-probs (num_iterations > 1), inference mode;
//   5. num_iterations updates: grpo_local_gradients on this rank's chunks, one all-reduce (sum)
//      of the gradients over the world, AdamW with divisor 1 (the loss's weights already hold
//      the global normaliser).
// Rank 0 prints a progress line and writes output_dir/metrics.jsonl; checkpoints like SFT's
// (a resumed run reproduces the same prompts and rollout seeds: both depend only on the step).
#pragma once

#include "data/tokenizer.h"
#include "rl/prompts.h"
#include "rl/repeat_sampler.h"
#include "train/training_run.h"
#include "train/training_setup.h"

#include <memory>
#include <optional>
#include <vector>

namespace ringlm {

struct GrpoSetup {
    TrainingSetup base;  // config, topology, model, sequence layout, ring attention (no corpus/sampler)
    std::unique_ptr<Tokenizer> tokenizer;
    std::vector<int32_t> stop_ids;  // the tokenizer's, and the chat template's end-of-turn with chat prompts
    std::vector<Prompt> prompts;
    std::unique_ptr<RepeatSampler> sampler;
    std::optional<Llama> reference;  // frozen copy of the initial weights when beta > 0
    int64_t total_steps = 0;
};

// Every check (config, prompts, batch shape) before anything is computed or written.
GrpoSetup make_grpo_setup(const Config& config);

// The GRPO step function in the one run loop (train/training_run.h); each step's fields are
// TRL's names (reward, reward_std, kl, clip_ratio, rewards/<function>, ...).
RunSummary run_grpo(GrpoSetup& setup);

}  // namespace ringlm
