#include "rl/grpo_step.h"

#include "backend/labels.h"
#include "ops/ops.h"
#include "util/error.h"

#include <algorithm>

namespace ringlm {

int64_t rollout_micro_batches(const std::vector<Rollout>& rollouts, const GrpoBatchLayout& layout) {
    const int64_t n = static_cast<int64_t>(rollouts.size());
    return (n + layout.micro_batch_size - 1) / layout.micro_batch_size;
}

TokenBatch rollout_token_batch(const std::vector<Prompt>& prompts, const std::vector<Rollout>& rollouts, int64_t micro,
                               const GrpoBatchLayout& layout) {
    const size_t first = static_cast<size_t>(micro * layout.micro_batch_size);
    const size_t last = std::min(rollouts.size(), first + static_cast<size_t>(layout.micro_batch_size));
    // Document d of the micro batch = prompt + completion of rollout first + d; the prompt's
    // labels are -100, so the first target is the first completion token.
    auto reader = [&](int64_t document) {
        const Rollout& rollout = rollouts[first + static_cast<size_t>(document)];
        const std::vector<int32_t>& prompt = prompts[static_cast<size_t>(rollout.prompt)].tokens;
        DocumentTokens tokens;
        tokens.input_ids = prompt;
        tokens.input_ids.insert(tokens.input_ids.end(), rollout.completion.begin(), rollout.completion.end());
        tokens.labels.assign(prompt.size(), ignore_label);
        tokens.labels.insert(tokens.labels.end(), rollout.completion.begin(), rollout.completion.end());
        return tokens;
    };
    std::vector<PackedRow> rows;
    int64_t longest = 1;
    for (size_t j = first; j < last; j++) {
        const int64_t length = static_cast<int64_t>(prompts[static_cast<size_t>(rollouts[j].prompt)].tokens.size() +
                                                    rollouts[j].completion.size());
        rows.push_back(PackedRow{{DocumentPiece{static_cast<int64_t>(j - first), 0, length}}, length});
        longest = std::max(longest, length);
    }
    return make_token_batch(rows, longest, reader, layout.sequence);
}

std::vector<std::vector<float>> score_rollouts(const Llama& model, const std::vector<Prompt>& prompts,
                                               const std::vector<Rollout>& rollouts, const GrpoBatchLayout& layout) {
    std::vector<std::vector<float>> logps;
    for (int64_t micro = 0; micro < rollout_micro_batches(rollouts, layout); micro++) {
        // A fresh batch (fresh tensor ids): ring attention's checkpoint replays are keyed by the
        // batch's input_ids, so a scoring pass must never look like the policy's forward.
        const TokenBatch batch = rollout_token_batch(prompts, rollouts, micro, layout);
        Tape tape(Tape::Mode::inference);
        const std::vector<float> losses = to_vector<float>(llama_token_losses(tape, model, batch, *layout.forward));
        std::vector<float> logp(losses.size());
        for (size_t t = 0; t < losses.size(); t++) logp[t] = -losses[t];
        logps.push_back(std::move(logp));
    }
    return logps;
}

GrpoLocalResult grpo_local_gradients(Llama& model, const std::vector<Prompt>& prompts,
                                     const std::vector<Rollout>& rollouts, const std::vector<double>& advantages,
                                     const GrpoBatchLayout& layout, const GrpoNormaliser& normaliser,
                                     const GrpoLossSettings& settings,
                                     const std::vector<std::vector<float>>* old_logps,
                                     const std::vector<std::vector<float>>* ref_logps) {
    if (advantages.size() != rollouts.size())
        fail("grpo: {} advantages for {} rollouts", advantages.size(), rollouts.size());
    GrpoLocalResult result;
    require_gradients(model, "grpo_local_gradients");
    backend(model.gradients).fill(model.gradients, 0.0);
    for (int64_t micro = 0; micro < rollout_micro_batches(rollouts, layout); micro++) {
        const TokenBatch batch = rollout_token_batch(prompts, rollouts, micro, layout);
        const size_t first = static_cast<size_t>(micro * layout.micro_batch_size);
        const size_t rows = std::min(rollouts.size() - first, static_cast<size_t>(layout.micro_batch_size));
        const size_t T = static_cast<size_t>(batch.tokens()), per_row = T / rows;
        // Tokens are laid out row by row, per_row of each: token t belongs to rollout first + t / per_row.
        GrpoTokenInputs inputs;
        inputs.weight.assign(T, 0.0);
        inputs.advantage.assign(T, 0.0);
        const int32_t* labels = batch.labels.data<int32_t>();
        for (size_t t = 0; t < T; t++) {
            if (labels[t] == ignore_label) continue;
            const size_t j = first + t / per_row;
            inputs.weight[t] = grpo_token_weight(normaliser.loss_type, static_cast<int64_t>(rollouts[j].completion.size()),
                                                 normaliser.total_sequences, normaliser.total_tokens,
                                                 normaliser.max_completion_length);
            inputs.advantage[t] = advantages[j];
        }
        if (old_logps) inputs.old_logp = (*old_logps)[static_cast<size_t>(micro)];
        if (ref_logps) inputs.ref_logp = (*ref_logps)[static_cast<size_t>(micro)];

        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        GrpoLossStatistics statistics;
        Tensor loss = grpo_loss(tape, llama_token_losses(tape, model, batch, *layout.forward), inputs, settings,
                                &statistics);
        tape.backward(loss, grads);
        result.loss += to_vector<float>(loss)[0];
        result.statistics.tokens += statistics.tokens;
        result.statistics.kl_sum += statistics.kl_sum;
        result.statistics.clipped += statistics.clipped;
    }
    return result;
}

}  // namespace ringlm
