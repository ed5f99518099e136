#include "rl/grpo_trainer.h"

#include "data/tokenizer_files.h"

#include "rl/advantages.h"
#include "rl/grpo_step.h"
#include "rl/rewards.h"
#include "rl/rollout.h"
#include "train/checkpoint.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/stop_signal.h"
#include "train/trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace ringlm {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<std::string> dataset_paths(const std::vector<DatasetEntry>& entries) {
    std::vector<std::string> paths;
    for (const DatasetEntry& entry : entries) paths.push_back(entry.path);
    return paths;
}

// Sums over the DP groups (one rank per group: the SP ranks of a group hold the same values).
void sum_over_groups(const Topology& topology, double* values, int count) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, topology.dp_comm.get()),
              "MPI_Allreduce (GRPO batch sums)");
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
    const std::string tokenizer = tokenizer_or_model_default(config.model.tokenizer, config.model.base_model);
    if (tokenizer.empty())
        fail_uniform("{}: key 'tokenizer' is required for GRPO (prompts are text; completions are decoded for rewards) "
                     "unless base_model is a Hugging Face folder with a tokenizer.json", config.source);
    GrpoSetup setup;
    setup.base = make_model_setup(config);
    const Topology& topology = setup.base.topology;
    const ModelConfig& model_config = setup.base.model.config;
    setup.tokenizer = open_tokenizer(tokenizer, model_config.vocab_size);
    const int64_t max_prompt_tokens = model_config.max_position - grpo.max_completion_length;
    if (max_prompt_tokens < 1)
        fail_uniform("{}: trl.max_completion_length {} leaves no room for a prompt in the model's max_position {}",
                     config.source, grpo.max_completion_length, model_config.max_position);
    setup.prompts = load_prompts(dataset_paths(config.data.datasets), *setup.tokenizer, max_prompt_tokens,
                                 required_prompt_fields(grpo));
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
    const std::string& resume = config.output.resume_from_checkpoint;
    if (resume == "auto") setup.base.resume_from = latest_checkpoint(config.output.output_dir);
    else if (!resume.empty() && !std::filesystem::exists(resume))
        fail_uniform("{}: resume_from_checkpoint '{}' does not exist", config.source, resume);
    else if (!resume.empty()) setup.base.resume_from = resume;
    return setup;
}

GrpoSummary run_grpo(GrpoSetup& setup) {
    const Config& c = setup.base.config;
    const GrpoSection& grpo = c.grpo;
    const Topology& t = setup.base.topology;
    const bool rank_zero = t.rank == 0;
    Llama& model = setup.base.model;
    AdamW optimizer = make_adamw(model, AdamWSettings{c.training.adam_beta1, c.training.adam_beta2,
                                                      c.training.adam_epsilon, c.training.weight_decay,
                                                      c.training.max_grad_norm});
    GrpoSummary summary;
    if (setup.base.resume_from) {
        summary.first_step = load_checkpoint(*setup.base.resume_from, model, &optimizer).step;
        if (rank_zero) fmt::print("resuming from {} at step {}\n", *setup.base.resume_from, summary.first_step);
    }
    const int64_t sequences_per_group = c.training.micro_batch_size * c.training.gradient_accumulation_steps;
    if (rank_zero) {
        std::filesystem::create_directories(c.output.output_dir);
        std::ofstream(c.output.output_dir + "/config.yaml") << to_yaml(c);
        fmt::print("{}\n", launch_summary(setup.base));
        fmt::print("grpo: {} prompts; per step {} prompt(s) x {} generations per data-parallel group, {} steps, "
                   "loss_type {}, beta {}, {} update(s) per rollout batch\n",
                   setup.prompts.size(), setup.sampler->prompts_per_group(), grpo.num_generations, setup.total_steps,
                   name(grpo.loss_type), grpo.beta, grpo.num_iterations);
        // Batches are dealt round-robin over the SP ranks; fewer batches than ranks idles some.
        const int64_t rollout_batches = (sequences_per_group + grpo.rollout_batch_size - 1) / grpo.rollout_batch_size;
        if (rollout_batches < t.sp_size)
            fmt::print("warning: {} rollouts per step in batches of trl.rollout_batch_size {} make {} batch(es) for {} "
                       "sequence-parallel ranks: {} rank(s) idle while sampling; a rollout_batch_size of {} keeps "
                       "them all busy\n",
                       sequences_per_group, grpo.rollout_batch_size, rollout_batches, t.sp_size,
                       t.sp_size - rollout_batches, std::max<int64_t>(1, sequences_per_group / t.sp_size));
        std::fflush(stdout);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    MetricsLog log(c.output.output_dir, rank_zero);
    install_stop_signal_handlers();
    const std::string config_yaml = to_yaml(c);
    auto save = [&](int64_t steps_done) {
        save_run_checkpoint(c.output.output_dir, model, optimizer, steps_done, config_yaml);
    };

    const RolloutSettings rollout_settings{grpo.num_generations, grpo.max_completion_length, grpo.temperature,
                                           grpo.top_p, static_cast<uint64_t>(c.training.seed),
                                           grpo.rollout_batch_size, setup.tokenizer->stop_ids()};
    const GrpoBatchLayout layout{c.training.micro_batch_size, setup.base.layout, &setup.base.forward};
    const GrpoLossSettings loss_settings{grpo.epsilon, grpo.epsilon_high, grpo.beta};
    const int64_t total_updates = setup.total_steps * grpo.num_iterations;
    const auto run_start = Clock::now();
    int64_t step = summary.first_step;
    bool stopped = false;
    for (; step < setup.total_steps && !stopped; step++) {
        const auto step_start = Clock::now();
        GrpoStepMetrics m;
        m.step = step + 1;

        // 1-3: prompts, rollouts, rewards, advantages
        const std::vector<int64_t> prompt_indices = setup.sampler->prompts(step, t.dp_rank);
        const std::vector<Rollout> rollouts = generate_rollouts(model, setup.prompts, prompt_indices, step, rollout_settings,
                                                                t.sp_size > 1 ? t.sp_comm.get() : MPI_COMM_NULL);
        const RewardTable rewards = compute_rewards(grpo, setup.prompts, rollouts, *setup.tokenizer,
                                                    t.sp_size > 1 ? t.sp_comm.get() : MPI_COMM_NULL);
        const std::vector<double> advantages = group_advantages(rewards.total, grpo.num_generations, grpo.scale_rewards);
        m.generation_seconds = seconds_since(step_start);

        // Global batch sums (per group, then over the DP groups): sequences, completion and
        // all tokens, stopped completions, reward sums, mean group std, per-function sums.
        std::vector<double> sums(6 + rewards.names.size(), 0.0);
        for (size_t j = 0; j < rollouts.size(); j++) {
            sums[0] += 1;
            sums[1] += static_cast<double>(rollouts[j].completion.size());
            sums[2] += static_cast<double>(rollouts[j].completion.size() +
                                           setup.prompts[static_cast<size_t>(rollouts[j].prompt)].tokens.size());
            sums[3] += rollouts[j].stopped ? 1 : 0;
            sums[4] += rewards.total[j];
            for (size_t f = 0; f < rewards.names.size(); f++) sums[6 + f] += rewards.per_function[f][j];
        }
        for (double group_std : group_statistics(rewards.total, grpo.num_generations).std) sums[5] += group_std;
        sum_over_groups(t, sums.data(), static_cast<int>(sums.size()));
        const double groups = sums[0] / static_cast<double>(grpo.num_generations);
        m.reward_mean = sums[4] / sums[0];
        m.reward_std = sums[5] / groups;  // TRL's reward_std: the mean of the groups' std
        for (size_t f = 0; f < rewards.names.size(); f++) m.reward_means.emplace_back(rewards.names[f], sums[6 + f] / sums[0]);
        m.completion_length = sums[1] / sums[0];
        m.stopped_fraction = sums[3] / sums[0];
        const GrpoNormaliser normaliser{grpo.loss_type, t.dp_size * sequences_per_group, static_cast<int64_t>(sums[1]),
                                        grpo.max_completion_length};

        // 4-5: reference / old log-probs, then the updates
        const auto train_start = Clock::now();
        std::vector<std::vector<float>> ref_logps, old_logps;
        if (setup.reference) ref_logps = score_rollouts(*setup.reference, setup.prompts, rollouts, layout);
        if (grpo.num_iterations > 1) old_logps = score_rollouts(model, setup.prompts, rollouts, layout);
        double statistics[4] = {0, 0, 0, 0};  // loss, tokens, kl sum, clipped (first update)
        for (int64_t iteration = 0; iteration < grpo.num_iterations; iteration++) {
            const GrpoLocalResult local =
                grpo_local_gradients(model, setup.prompts, rollouts, advantages, layout, normaliser, loss_settings,
                                     old_logps.empty() ? nullptr : &old_logps, ref_logps.empty() ? nullptr : &ref_logps);
            double totals[4] = {local.loss, local.statistics.tokens, local.statistics.kl_sum, local.statistics.clipped};
            if (t.world_size > 1) {
                allreduce_gradients(setup.base, model.gradients);
                allreduce_sum(totals, 4);
            }
            if (!std::isfinite(totals[0]))
                fail("grpo step {}: the loss is {} (rank {}); lower learning_rate", step + 1, totals[0], t.rank);
            const int64_t update = step * grpo.num_iterations + iteration;
            m.learning_rate = learning_rate_at(update, total_updates, c.training.warmup_steps, c.training.learning_rate,
                                               c.training.lr_scheduler);
            const double norm = adamw_step(optimizer, model, m.learning_rate, 1.0);
            if (iteration == 0) {
                std::copy(totals, totals + 4, statistics);
                m.grad_norm = norm;
            }
        }
        m.training_seconds = seconds_since(train_start);
        m.loss = statistics[0];
        m.kl = statistics[1] > 0 ? statistics[2] / statistics[1] : 0.0;
        m.clip_fraction = statistics[1] > 0 ? statistics[3] / statistics[1] : 0.0;
        m.tokens_per_second = sums[2] / seconds_since(step_start);
        summary.steps.push_back(m);

        if ((step + 1) % c.output.logging_steps == 0 || step + 1 == setup.total_steps) {
            if (rank_zero) {
                std::string per_function;
                for (const auto& [function, value] : m.reward_means) per_function += fmt::format(" {} {:.3f}", function, value);
                fmt::print("step {:>4}/{} | reward {:.4f} ± {:.3f} ({}) | kl {:.5f} | clip {:.1f}% | loss {:.4f} | "
                           "grad norm {:.3f} | length {:.1f} ({:.0f}% stopped) | generate {:.1f}s train {:.1f}s | "
                           "{:.0f} tok/s | {} elapsed\n",
                           m.step, setup.total_steps, m.reward_mean, m.reward_std, per_function.substr(1), m.kl,
                           100 * m.clip_fraction, m.loss, m.grad_norm, m.completion_length, 100 * m.stopped_fraction,
                           m.generation_seconds, m.training_seconds, m.tokens_per_second,
                           format_duration(seconds_since(run_start)));
                std::fflush(stdout);
            }
            nlohmann::json record{{"step", m.step},
                                  {"loss", m.loss},
                                  {"reward", m.reward_mean},
                                  {"reward_std", m.reward_std},
                                  {"kl", m.kl},
                                  {"clip_ratio", m.clip_fraction},
                                  {"grad_norm", m.grad_norm},
                                  {"lr", m.learning_rate},
                                  {"completion_length", m.completion_length},
                                  {"stopped_fraction", m.stopped_fraction},
                                  {"generation_s", m.generation_seconds},
                                  {"training_s", m.training_seconds},
                                  {"tokens_per_s", m.tokens_per_second}};
            for (const auto& [function, value] : m.reward_means) record["rewards/" + function] = value;
            log.event(record.dump());
        }

        int stopping = stop_requested() ? 1 : 0;
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, &stopping, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (stop)");
        const bool last = step + 1 == setup.total_steps;
        if (stopping) {
            if (rank_zero) fmt::print("signal {} received: checkpointing at step {} and stopping\n", stop_signal(), step + 1);
            stopped = true;
            save(step + 1);
        } else if (!last && c.output.save_steps > 0 && (step + 1) % c.output.save_steps == 0) {
            save(step + 1);
        }
    }
    summary.last_step = step;
    if (!stopped && (summary.last_step > summary.first_step || !setup.base.resume_from)) save(summary.last_step);
    return summary;
}

}  // namespace ringlm
