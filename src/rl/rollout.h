// Rollouts: the G completions of each of a step's prompts, sampled in batches with the KV
// cache (model/generate.h) in inference mode on each rank's full replica.
//
// Work split: the step's rollouts j = prompt_slot x G + generation are cut into batches of
// `batch_size` consecutive rollouts; batch b is sampled by SP rank b mod S (round-robin over
// batches), as one batched decode; then the rollouts are all-gathered over the SP
// communicator, so every SP rank holds the whole rollout batch.
//
// Determinism: rollout (prompt, generation) at `step` samples with its own rng seeded from
// (seed, step, prompt index, generation index), and is decoded in the batch j / batch_size,
// whose members do not depend on S. That matters: a BLAS GEMM's row results change with the
// number of rows and a row's place among them (model/generate.h), so a rank batching "all of
// its rollouts" would give other tokens for another S. Batches fixed by j alone give the same
// tokens whatever S and whichever rank samples them. (Another batch_size may change them,
// at the level of rounding.)
#pragma once

#include "model/llama.h"
#include "parallel/communicator.h"
#include "rl/prompts.h"


#include <cstdint>
#include <vector>

namespace ringlm {

struct Rollout {
    int64_t prompt = 0;      // index into the prompts
    int64_t generation = 0;  // 0..G-1
    std::vector<int32_t> completion;  // sampled tokens, ending with the stop token (BOS/EOS) if one came
    bool stopped = false;    // ended with a stop token (not cut at max_completion_length)
    // The completion's text tokens: without the stop token.
    int64_t text_length() const { return static_cast<int64_t>(completion.size()) - (stopped ? 1 : 0); }
};

struct RolloutSettings {
    int64_t num_generations = 1;       // G
    int64_t max_completion_length = 1;  // tokens, the stop token included
    double temperature = 1.0, top_p = 1.0;
    uint64_t seed = 0;
    // Rollouts decoded together. Fixed, never derived from S (see Determinism above); larger
    // batches make larger GEMMs, smaller ones spread a step's rollouts over more SP ranks.
    int64_t batch_size = 16;
    std::vector<int32_t> stop_ids = {bos_id, eos_id};  // the tokenizer's stop_ids()
};

// The rng seed of one rollout: a hash of (seed, step, prompt, generation).
uint64_t rollout_seed(uint64_t seed, int64_t step, int64_t prompt, int64_t generation);

// Rollouts j in [begin, end) of the step (j = prompt slot x G + generation), as one batch.
std::vector<Rollout> sample_rollout_batch(const Llama& model, const std::vector<Prompt>& prompts,
                                          const std::vector<int64_t>& prompt_indices, int64_t step,
                                          const RolloutSettings& settings, int64_t begin, int64_t end);

// All G completions of every prompt in `prompt_indices`, in order (prompt slot major), on
// every rank of the SP group `sp` (each samples every S-th batch, then they swap them; null:
// this rank samples all of them).
std::vector<Rollout> generate_rollouts(const Llama& model, const std::vector<Prompt>& prompts,
                                       const std::vector<int64_t>& prompt_indices, int64_t step,
                                       const RolloutSettings& settings, Communicator* sp);

}  // namespace ringlm
