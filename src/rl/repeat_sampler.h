// Which prompts a GRPO step uses (TRL's RepeatSampler, made sequence-parallel aware).
//
// A step takes P = micro_batch_size x gradient_accumulation_steps / G prompts per DP group,
// each repeated G = num_generations times, so a group's batch is exactly its
// micro_batch_size x gradient_accumulation_steps sequences and a prompt's G completions share
// one advantage group. The prompt order is a permutation per epoch, deterministic in
// (seed, epoch); the step's D x P prompts are dealt to the DP groups in order, so the ranks of
// an SP group (same dp_rank) get the same prompts and different DP groups distinct ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringlm {

struct RepeatSamplerSettings {
    uint64_t seed = 0;
    int64_t num_prompts = 0;
    int64_t num_generations = 0;  // G
    int64_t sequences_per_group = 0;  // micro_batch_size x gradient_accumulation_steps
    int64_t dp_size = 1;
};

class RepeatSampler {
public:
    // Refuses (fail_uniform) G not dividing the per-group batch; `source` starts the message.
    RepeatSampler(const RepeatSamplerSettings& settings, const std::string& source);
    int64_t prompts_per_group() const { return prompts_per_group_; }
    // Prompt indices of DP group `dp_rank` at `step` (P of them, each to be repeated G times).
    std::vector<int64_t> prompts(int64_t step, int64_t dp_rank) const;
    // Steps in one pass over the prompts (at least 1).
    int64_t steps_per_epoch() const;

private:
    RepeatSamplerSettings settings_;
    int64_t prompts_per_group_ = 0;
};

}  // namespace ringlm
