#include "rl/rollout.h"

#include "model/generate.h"

#include <algorithm>

namespace ringlm {

namespace {

// splitmix64: a well-mixed 64-bit hash step.
uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// The SP rank that samples rollout j: the owner of its batch j / batch_size.
int batch_owner(int64_t j, const RolloutSettings& settings, int S) {
    return static_cast<int>((j / settings.batch_size) % S);
}

}  // namespace

uint64_t rollout_seed(uint64_t seed, int64_t step, int64_t prompt, int64_t generation) {
    return mix(mix(mix(mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(prompt)) ^
               static_cast<uint64_t>(generation));
}

std::vector<Rollout> sample_rollout_batch(const Llama& model, const std::vector<Prompt>& prompts,
                                          const std::vector<int64_t>& prompt_indices, int64_t step,
                                          const RolloutSettings& settings, int64_t begin, int64_t end) {
    const int64_t G = settings.num_generations;
    std::vector<std::vector<int32_t>> batch_prompts;
    std::vector<uint64_t> seeds;
    std::vector<Rollout> rollouts;
    for (int64_t j = begin; j < end; j++) {
        const int64_t prompt = prompt_indices[static_cast<size_t>(j / G)];
        batch_prompts.push_back(prompts[static_cast<size_t>(prompt)].tokens);
        seeds.push_back(rollout_seed(settings.seed, step, prompt, j % G));
        rollouts.push_back(Rollout{prompt, j % G, {}, false});
    }
    SamplingOptions sampling;
    sampling.max_new_tokens = settings.max_completion_length;
    sampling.temperature = settings.temperature;
    sampling.top_p = settings.top_p;
    // llama2.c's stories end with BOS; EOS ends other models' text. The stop token stays in
    // the completion (it carries loss: how the policy learns when to stop).
    sampling.stop_at_bos_or_eos = true;
    sampling.stop_ids = settings.stop_ids;
    std::vector<Completion> completions = generate_batch(model, batch_prompts, seeds, sampling);
    for (size_t i = 0; i < rollouts.size(); i++) {
        rollouts[i].completion = std::move(completions[i].tokens);
        rollouts[i].stopped = completions[i].stopped;
    }
    return rollouts;
}

std::vector<Rollout> generate_rollouts(const Llama& model, const std::vector<Prompt>& prompts,
                                       const std::vector<int64_t>& prompt_indices, int64_t step,
                                       const RolloutSettings& settings, Communicator* sp) {
    if (settings.batch_size < 1) fail("grpo: rollout batch size {} must be at least 1", settings.batch_size);
    const int S = sp ? sp->size() : 1, sp_rank = sp ? sp->rank() : 0;
    const int64_t total = static_cast<int64_t>(prompt_indices.size()) * settings.num_generations;
    std::vector<Rollout> rollouts(static_cast<size_t>(total));
    // Mine: the batches b with b mod S == sp_rank. Sent as [length, stopped, tokens...] per
    // rollout, in rollout order.
    std::vector<int32_t> mine;
    for (int64_t begin = static_cast<int64_t>(sp_rank) * settings.batch_size; begin < total;
         begin += static_cast<int64_t>(S) * settings.batch_size) {
        const int64_t end = std::min(total, begin + settings.batch_size);
        std::vector<Rollout> batch = sample_rollout_batch(model, prompts, prompt_indices, step, settings, begin, end);
        for (int64_t j = begin; j < end; j++) {
            Rollout& rollout = batch[static_cast<size_t>(j - begin)];
            mine.push_back(static_cast<int32_t>(rollout.completion.size()));
            mine.push_back(rollout.stopped ? 1 : 0);
            mine.insert(mine.end(), rollout.completion.begin(), rollout.completion.end());
            rollouts[static_cast<size_t>(j)] = std::move(rollout);
        }
    }
    if (S == 1) return rollouts;

    const std::vector<std::vector<int32_t>> all = sp->all_gather_varying(mine);
    std::vector<size_t> at(static_cast<size_t>(S), 0);  // each rank's next record
    const int64_t G = settings.num_generations;
    for (int64_t j = 0; j < total; j++) {
        const size_t owner = static_cast<size_t>(batch_owner(j, settings, S));
        const std::vector<int32_t>& records = all[owner];
        size_t& next = at[owner];
        Rollout& rollout = rollouts[static_cast<size_t>(j)];
        const int32_t length = records[next], stopped = records[next + 1];
        rollout.prompt = prompt_indices[static_cast<size_t>(j / G)];
        rollout.generation = j % G;
        rollout.stopped = stopped != 0;
        rollout.completion.assign(records.begin() + static_cast<std::ptrdiff_t>(next + 2),
                                  records.begin() + static_cast<std::ptrdiff_t>(next + 2 + static_cast<size_t>(length)));
        next += 2 + static_cast<size_t>(length);
    }
    return rollouts;
}

}  // namespace ringlm
