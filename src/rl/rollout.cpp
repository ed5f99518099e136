#include "rl/rollout.h"

#include "data/tokenizer.h"
#include "model/generate.h"
#include "parallel/topology.h"

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

}  // namespace

uint64_t rollout_seed(uint64_t seed, int64_t step, int64_t prompt, int64_t generation) {
    return mix(mix(mix(mix(seed) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(prompt)) ^
               static_cast<uint64_t>(generation));
}

Rollout sample_rollout(const Llama& model, const std::vector<int32_t>& prompt_tokens, int64_t prompt_index,
                       int64_t generation, int64_t step, const RolloutSettings& settings) {
    SamplingOptions sampling;
    sampling.temperature = settings.temperature;
    sampling.top_p = settings.top_p;
    std::mt19937_64 rng(rollout_seed(settings.seed, step, prompt_index, generation));
    Rollout rollout{prompt_index, generation, {}, false};
    const int64_t capacity = static_cast<int64_t>(prompt_tokens.size()) + settings.max_completion_length;
    KvCache cache = make_kv_cache(model, capacity);
    std::vector<float> logits = decode_step(model, cache, prompt_tokens);
    while (static_cast<int64_t>(rollout.completion.size()) < settings.max_completion_length) {
        const int32_t next = sample_token(logits, sampling, rng);
        rollout.completion.push_back(next);
        // llama2.c's stories end with BOS; EOS ends other models' text. The stop token stays
        // in the completion (it carries loss: how the policy learns when to stop).
        if (next == bos_id || next == eos_id) {
            rollout.stopped = true;
            break;
        }
        if (static_cast<int64_t>(rollout.completion.size()) == settings.max_completion_length) break;
        logits = decode_step(model, cache, {next});
    }
    return rollout;
}

std::vector<Rollout> generate_rollouts(const Llama& model, const std::vector<Prompt>& prompts,
                                       const std::vector<int64_t>& prompt_indices, int64_t step,
                                       const RolloutSettings& settings, MPI_Comm sp_comm) {
    int S = 1, sp_rank = 0;
    if (sp_comm != MPI_COMM_NULL) {
        check_mpi(MPI_Comm_size(sp_comm, &S), "MPI_Comm_size (rollouts)");
        check_mpi(MPI_Comm_rank(sp_comm, &sp_rank), "MPI_Comm_rank (rollouts)");
    }
    const int64_t G = settings.num_generations, total = static_cast<int64_t>(prompt_indices.size()) * G;
    std::vector<Rollout> rollouts(static_cast<size_t>(total));
    // Mine: j mod S == sp_rank. Sent as [length, stopped, tokens...] per rollout.
    std::vector<int32_t> mine;
    for (int64_t j = sp_rank; j < total; j += S) {
        const int64_t prompt = prompt_indices[static_cast<size_t>(j / G)];
        Rollout rollout = sample_rollout(model, prompts[static_cast<size_t>(prompt)].tokens, prompt, j % G, step, settings);
        mine.push_back(static_cast<int32_t>(rollout.completion.size()));
        mine.push_back(rollout.stopped ? 1 : 0);
        mine.insert(mine.end(), rollout.completion.begin(), rollout.completion.end());
        rollouts[static_cast<size_t>(j)] = std::move(rollout);
    }
    if (S == 1) return rollouts;

    int my_count = static_cast<int>(mine.size());
    std::vector<int> counts(static_cast<size_t>(S)), displacements(static_cast<size_t>(S), 0);
    check_mpi(MPI_Allgather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, sp_comm), "MPI_Allgather (rollout sizes)");
    for (int r = 1; r < S; r++) displacements[r] = displacements[r - 1] + counts[r - 1];
    std::vector<int32_t> all(static_cast<size_t>(displacements[S - 1] + counts[S - 1]));
    check_mpi(MPI_Allgatherv(mine.data(), my_count, MPI_INT32_T, all.data(), counts.data(), displacements.data(),
                             MPI_INT32_T, sp_comm),
              "MPI_Allgatherv (rollouts)");
    for (int r = 0; r < S; r++) {
        size_t at = static_cast<size_t>(displacements[r]);
        for (int64_t j = r; j < total; j += S) {
            Rollout& rollout = rollouts[static_cast<size_t>(j)];
            const int32_t length = all[at], stopped = all[at + 1];
            rollout.prompt = prompt_indices[static_cast<size_t>(j / G)];
            rollout.generation = j % G;
            rollout.stopped = stopped != 0;
            rollout.completion.assign(all.begin() + static_cast<std::ptrdiff_t>(at + 2),
                                      all.begin() + static_cast<std::ptrdiff_t>(at + 2 + static_cast<size_t>(length)));
            at += 2 + static_cast<size_t>(length);
        }
    }
    return rollouts;
}

}  // namespace ringlm
