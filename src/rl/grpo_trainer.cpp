#include "rl/grpo_trainer.h"

#include "data/chat_template.h"

#include "parallel/collective_error.h"
#include "rl/advantages.h"
#include "rl/grpo_step.h"
#include "rl/rewards.h"
#include "rl/rollout.h"
#include "train/input_checks.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/run_directory.h"
#include "train/trainer.h"
#include "train/training_run.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace ringlm {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<std::string> dataset_paths(const std::vector<DatasetEntry>& entries) {
    std::vector<std::string> paths;
    for (const DatasetEntry& entry : entries) paths.push_back(entry.path);
    return paths;
}

// What a step's progress line reports about the rollouts of the global batch: summed over this
// group's rollouts, then over the DP groups (the SP ranks of a group hold the same rollouts).
struct RolloutTotals {
    double sequences = 0, completion_tokens = 0, all_tokens = 0, stopped = 0, reward = 0, group_std = 0;
    std::vector<double> per_function;  // reward sums, one per reward function
};

RolloutTotals rollout_totals(const Communicators& comms, const std::vector<Prompt>& prompts,
                             const std::vector<Rollout>& rollouts, const RewardTable& rewards, int64_t group_size) {
    RolloutTotals totals;
    totals.per_function.assign(rewards.names.size(), 0.0);
    for (size_t j = 0; j < rollouts.size(); j++) {
        const double completion = static_cast<double>(rollouts[j].completion.size());
        totals.sequences += 1;
        totals.completion_tokens += completion;
        totals.all_tokens += completion + static_cast<double>(prompts[static_cast<size_t>(rollouts[j].prompt)].tokens.size());
        totals.stopped += rollouts[j].stopped ? 1 : 0;
        totals.reward += rewards.total[j];
        for (size_t f = 0; f < rewards.names.size(); f++) totals.per_function[f] += rewards.per_function[f][j];
    }
    for (double group_std : group_statistics(rewards.total, group_size).std) totals.group_std += group_std;
    std::vector<double> values{totals.sequences, totals.completion_tokens, totals.all_tokens,
                               totals.stopped,   totals.reward,            totals.group_std};
    values.insert(values.end(), totals.per_function.begin(), totals.per_function.end());
    comms.dp->all_reduce_sum(values.data(), static_cast<int>(values.size()));
    totals = RolloutTotals{values[0], values[1], values[2], values[3], values[4], values[5],
                           std::vector<double>(values.begin() + 6, values.end())};
    return totals;
}

// One update's loss and statistics, summed over the world.
struct UpdateTotals {
    double loss = 0, tokens = 0, kl_sum = 0, clipped = 0;
};

UpdateTotals update_totals(Communicator& world, const GrpoLocalResult& local) {
    double values[4] = {local.loss, local.statistics.tokens, local.statistics.kl_sum, local.statistics.clipped};
    world.all_reduce_sum(values, 4);
    return {values[0], values[1], values[2], values[3]};
}

}  // namespace

GrpoSetup make_grpo_setup(const Config& config) {
    try {
        validate_for_grpo(config);
    } catch (const UniformError&) {
        throw;
    } catch (const Error& error) {
        throw UniformError(error.what());
    }
    const GrpoSection& grpo = config.grpo;
    GrpoSetup setup;
    setup.base = make_model_setup(config);  // checks the input paths first
    if (config_tokenizer_spec(config).empty())
        fail_uniform("{}: key 'tokenizer' is required for GRPO (prompts are text; completions are decoded for rewards) "
                     "unless base_model is a Hugging Face folder with a tokenizer.json", config.source);
    setup.base.resume_from = check_run_directory(config);
    const Topology& topology = setup.base.topology;
    const ModelConfig& model_config = setup.base.model.config;
    check_together([&] { setup.tokenizer = load_config_tokenizer(config, model_config.vocab_size); });
    const int64_t max_prompt_tokens = model_config.max_position - grpo.max_completion_length;
    if (max_prompt_tokens < 1)
        fail_uniform("{}: trl.max_completion_length {} leaves no room for a prompt in the model's max_position {}",
                     config.source, grpo.max_completion_length, model_config.max_position);
    // Chat `messages` prompts: the config's chat_template (tokenizer_default: the tokenizer's own).
    const auto chat_template = [&config] {
        return resolve_chat_template(config.data.chat_template, config_tokenizer_spec(config),
                                     config.source + ": chat_template");
    };
    setup.prompts = load_prompts(dataset_paths(config.data.datasets), *setup.tokenizer, max_prompt_tokens,
                                 required_prompt_fields(grpo), chat_template);
    setup.stop_ids = setup.tokenizer->stop_ids();
    const bool chat_prompts = std::any_of(setup.prompts.begin(), setup.prompts.end(),
                                          [](const Prompt& prompt) { return !prompt.record.contains("prompt"); });
    if (chat_prompts) setup.stop_ids.push_back(end_of_turn_id(*setup.tokenizer, chat_template()));
    RepeatSamplerSettings settings{static_cast<uint64_t>(config.training.seed), static_cast<int64_t>(setup.prompts.size()),
                                   grpo.num_generations,
                                   config.training.micro_batch_size * config.training.gradient_accumulation_steps,
                                   topology.dp_size};
    setup.sampler = std::make_unique<RepeatSampler>(settings, config.source);
    setup.total_steps = config.training.max_steps > 0
                            ? config.training.max_steps
                            : static_cast<int64_t>(std::ceil(config.training.num_epochs *
                                                             static_cast<double>(setup.sampler->steps_per_epoch())));
    if (grpo.beta > 0) {
        // The reference is the initial policy: copied before any checkpoint is loaded. It is
        // only scored, never trained: no gradient buffer.
        setup.reference = make_llama(model_config, config.parallel.backend, ModelUse::inference);
        backend(setup.reference->parameters).copy(setup.reference->parameters, setup.base.model.parameters);
        // Scored with the policy's matmul precision, so the KL measures drift, not bf16 rounding.
        if (config.training.bf16) enable_bf16_matmuls(*setup.reference);
    }
    return setup;
}

namespace {

std::string grpo_description(const GrpoSetup& setup) {
    const Config& c = setup.base.config;
    const GrpoSection& grpo = c.grpo;
    const int64_t sequences_per_group = c.training.micro_batch_size * c.training.gradient_accumulation_steps;
    const int sp_size = setup.base.topology.sp_size;
    std::string text = fmt::format("grpo: {} prompts; per step {} prompt(s) x {} generations per data-parallel group, {} "
                                   "steps, loss_type {}, beta {}, {} update(s) per rollout batch",
                                   setup.prompts.size(), setup.sampler->prompts_per_group(), grpo.num_generations,
                                   setup.total_steps, name(grpo.loss_type), grpo.beta, grpo.num_iterations);
    // Batches are dealt round-robin over the SP ranks; fewer batches than ranks idles some.
    const int64_t rollout_batches = (sequences_per_group + grpo.rollout_batch_size - 1) / grpo.rollout_batch_size;
    if (rollout_batches < sp_size)
        text += fmt::format("\nwarning: {} rollouts per step in batches of trl.rollout_batch_size {} make {} batch(es) "
                            "for {} sequence-parallel ranks: {} rank(s) idle while sampling; a rollout_batch_size of {} "
                            "keeps them all busy",
                            sequences_per_group, grpo.rollout_batch_size, rollout_batches, sp_size,
                            sp_size - rollout_batches, std::max<int64_t>(1, sequences_per_group / sp_size));
    return text;
}

// One GRPO step: rollouts, rewards and advantages, reference/old log-probs, then
// num_iterations updates (each an all-reduce of the gradients and AdamW).
StepReport grpo_step(GrpoSetup& setup, AdamW& optimizer, int64_t step) {
    const Config& c = setup.base.config;
    const GrpoSection& grpo = c.grpo;
    const Topology& t = setup.base.topology;
    Llama& model = setup.base.model;
    const auto step_start = Clock::now();
    const int64_t sequences_per_group = c.training.micro_batch_size * c.training.gradient_accumulation_steps;
    const RolloutSettings rollout_settings{grpo.num_generations, grpo.max_completion_length, grpo.temperature,
                                           grpo.top_p, static_cast<uint64_t>(c.training.seed),
                                           grpo.rollout_batch_size, setup.stop_ids};
    const GrpoBatchLayout layout{c.training.micro_batch_size, setup.base.layout, &setup.base.forward};
    const GrpoLossSettings loss_settings{grpo.epsilon, grpo.epsilon_high, grpo.beta};

    // 1-3: prompts, rollouts, rewards, advantages
    const std::vector<int64_t> prompt_indices = setup.sampler->prompts(step, t.dp_rank);
    const std::vector<Rollout> rollouts = generate_rollouts(model, setup.prompts, prompt_indices, step, rollout_settings,
                                                            t.sp_size > 1 ? setup.base.comms.sp.get() : nullptr);
    const RewardTable rewards = compute_rewards(grpo, setup.prompts, rollouts, *setup.tokenizer,
                                                t.sp_size > 1 ? setup.base.comms.sp.get() : nullptr);
    const std::vector<double> advantages = group_advantages(rewards.total, grpo.num_generations, grpo.scale_rewards);
    const double generation_seconds = seconds_since(step_start);
    const RolloutTotals batch = rollout_totals(setup.base.comms, setup.prompts, rollouts, rewards, grpo.num_generations);
    const GrpoNormaliser normaliser{grpo.loss_type, t.dp_size * sequences_per_group,
                                    static_cast<int64_t>(batch.completion_tokens), grpo.max_completion_length};

    // 4-5: reference / old log-probs, then the updates
    const auto train_start = Clock::now();
    std::vector<std::vector<float>> ref_logps, old_logps;
    if (setup.reference) ref_logps = score_rollouts(*setup.reference, setup.prompts, rollouts, layout);
    if (grpo.num_iterations > 1) old_logps = score_rollouts(model, setup.prompts, rollouts, layout);
    const int64_t total_updates = setup.total_steps * grpo.num_iterations;
    UpdateTotals first;  // the first update's, as TRL reports
    double learning_rate = 0, grad_norm = 0;
    for (int64_t iteration = 0; iteration < grpo.num_iterations; iteration++) {
        const GrpoLocalResult local =
            grpo_local_gradients(model, setup.prompts, rollouts, advantages, layout, normaliser, loss_settings,
                                 old_logps.empty() ? nullptr : &old_logps, ref_logps.empty() ? nullptr : &ref_logps);
        if (t.world_size > 1) allreduce_gradients(setup.base, model.gradients);
        const UpdateTotals totals = update_totals(*setup.base.comms.world, local);
        check_step_finite(totals.loss, 0.0, step, t.rank);
        learning_rate = learning_rate_at(step * grpo.num_iterations + iteration, total_updates, c.training.warmup_steps,
                                         c.training.learning_rate, c.training.lr_scheduler);
        const double norm = adamw_step(optimizer, model, learning_rate, 1.0);
        check_step_finite(totals.loss, norm, step, t.rank);
        if (iteration == 0) {
            first = totals;
            grad_norm = norm;
        }
    }
    const double training_seconds = seconds_since(train_start);

    const double reward_mean = batch.reward / batch.sequences;
    const double reward_std = batch.group_std / (batch.sequences / static_cast<double>(grpo.num_generations));
    const double kl = first.tokens > 0 ? first.kl_sum / first.tokens : 0.0;
    const double clip_fraction = first.tokens > 0 ? first.clipped / first.tokens : 0.0;
    const double completion_length = batch.completion_tokens / batch.sequences;
    const double stopped_fraction = batch.stopped / batch.sequences;
    const double tokens_per_second = batch.all_tokens / seconds_since(step_start);
    StepReport report;
    report.loss = first.loss;
    report.grad_norm = grad_norm;
    report.fields = {{"loss", first.loss},
                     {"reward", reward_mean},
                     {"reward_std", reward_std},  // TRL's reward_std: the mean of the groups' std
                     {"kl", kl},
                     {"clip_ratio", clip_fraction},
                     {"grad_norm", grad_norm},
                     {"lr", learning_rate},
                     {"completion_length", completion_length},
                     {"stopped_fraction", stopped_fraction},
                     {"generation_s", generation_seconds},
                     {"training_s", training_seconds},
                     {"tokens_per_s", tokens_per_second}};
    std::string per_function;
    for (size_t f = 0; f < rewards.names.size(); f++) {
        const double mean = batch.per_function[f] / batch.sequences;
        report.fields["rewards/" + rewards.names[f]] = mean;
        per_function += fmt::format(" {} {:.3f}", rewards.names[f], mean);
    }
    report.progress = fmt::format("reward {:.4f} ± {:.3f} ({}) | kl {:.5f} | clip {:.1f}% | loss {:.4f} | grad norm "
                                  "{:.3f} | length {:.1f} ({:.0f}% stopped) | generate {:.1f}s train {:.1f}s | {:.0f} "
                                  "tok/s",
                                  reward_mean, reward_std, per_function.substr(1), kl, 100 * clip_fraction, first.loss,
                                  grad_norm, completion_length, 100 * stopped_fraction, generation_seconds,
                                  training_seconds, tokens_per_second);
    return report;
}

}  // namespace

RunSummary run_grpo(GrpoSetup& setup) {
    TrainingRun run(setup.base, setup.total_steps, grpo_description(setup));
    return run.run(RunSteps{[&](int64_t step, AdamW& optimizer) { return grpo_step(setup, optimizer, step); }, {}});
}

}  // namespace ringlm
