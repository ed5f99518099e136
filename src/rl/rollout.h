// Rollouts: the G completions of each of a step's prompts, sampled with the KV cache
// (model/generate.h) in inference mode on each rank's full replica.
//
// Work split: the step's rollouts j = prompt_slot x G + generation are dealt round-robin to
// the S ranks of the SP group (rank r samples those with j mod S == r: G/S of every prompt when
// S divides G, one more for some ranks otherwise), then all-gathered over the SP communicator,
// so every SP rank holds the whole rollout batch and no rank idles while others sample.
//
// Determinism: rollout (prompt, generation) at `step` samples with its own rng seeded from
// (seed, step, prompt index, generation index), and decodes alone (its own KV cache), so its
// tokens do not depend on S, on which rank sampled it, or on the others in the batch.
#pragma once

#include "model/llama.h"
#include "rl/prompts.h"

#include <mpi.h>

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
};

// The rng seed of one rollout: a hash of (seed, step, prompt, generation).
uint64_t rollout_seed(uint64_t seed, int64_t step, int64_t prompt, int64_t generation);

// One completion of `prompt_tokens`, decoded alone with a KV cache.
Rollout sample_rollout(const Llama& model, const std::vector<int32_t>& prompt_tokens, int64_t prompt_index,
                       int64_t generation, int64_t step, const RolloutSettings& settings);

// All G completions of every prompt in `prompt_indices`, in order (prompt slot major), on
// every rank of `sp_comm` (MPI_COMM_NULL or size 1: this rank samples all of them).
std::vector<Rollout> generate_rollouts(const Llama& model, const std::vector<Prompt>& prompts,
                                       const std::vector<int64_t>& prompt_indices, int64_t step,
                                       const RolloutSettings& settings, MPI_Comm sp_comm);

}  // namespace ringlm
