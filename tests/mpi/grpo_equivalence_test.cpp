// GRPO under sequence parallelism changes nothing but where the work happens:
//  - rollouts with a fixed seed are the same tokens whatever S (and whichever rank sampled them);
//  - one GRPO step's loss and every parameter gradient with S = 2 (and S = 2 x D = 2 at 4
//    ranks; S = 4 too) equal the single-rank run on the same global batch of rollouts within
//    1e-5 relative, for every loss_type and ring attention variant, with a KL term against a
//    reference model and old log-probs from another model (so ratios and clipping are live).
// The single-rank reference runs on each rank alone: all DP groups' rollouts, local
// attention, no communication.
#include "config/config.h"
#include "rl/advantages.h"
#include "rl/grpo_step.h"
#include "rl/repeat_sampler.h"
#include "rl/rollout.h"
#include "mpi/mpi_test_util.h"
#include "train/training_setup.h"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// A ring variant, or Ulysses / USP (context_parallel.backend) over it.
struct Attention {
    RingAttnFunc variant;
    ContextParallelBackend backend = ContextParallelBackend::ring;
    int64_t ulysses_degree = 0;
};

Config make_config(uint64_t seed, int S, Attention attention) {
    Config c;
    c.source = "grpo_equivalence_test";
    c.model.has_model_config = true;
    c.model.model_config = tiny_model_config(61, 96, true);
    c.data.sequence_len = 64;
    c.training.micro_batch_size = 4;
    c.training.gradient_accumulation_steps = 2;
    c.training.seed = static_cast<int64_t>(seed % 100000);
    c.parallel.sequence_parallel_degree = S;
    c.parallel.ring_attn_func = attention.variant;
    c.parallel.heads_k_stride = 1;
    c.parallel.context_parallel_backend = attention.backend;
    c.parallel.ulysses_degree = attention.ulysses_degree;
    return c;
}

// Random prompts of 3..12 tokens (ids 3..60), BOS first; the same on every rank.
std::vector<Prompt> make_prompts(uint64_t seed, int count) {
    std::mt19937_64 rng(seed);
    std::vector<Prompt> prompts(static_cast<size_t>(count));
    for (Prompt& prompt : prompts) {
        prompt.tokens = {1};
        const int length = 3 + static_cast<int>(rng() % 10);
        for (int t = 0; t < length; t++) prompt.tokens.push_back(static_cast<int32_t>(3 + rng() % 58));
    }
    return prompts;
}

// A model whose weights are the setup's plus noise: the reference / old policy.
Llama perturbed_copy(const Llama& model, uint64_t seed, double noise) {
    Llama copy = make_llama(model.config);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, noise);
    const float* from = model.parameters.data<float>();
    float* to = copy.parameters.data<float>();
    for (int64_t i = 0; i < model.parameters.numel(); i++) to[i] = from[i] + static_cast<float>(normal(rng));
    return copy;
}

constexpr int64_t G = 4;
// Batches of 3 rollouts: a step's 8 are batches of 3, 3 and 2, dealt unevenly over S = 2 and 4.
RolloutSettings rollout_settings(uint64_t seed) { return RolloutSettings{G, 20, 1.0, 0.95, seed, 3}; }

}  // namespace

TEST(GrpoEquivalence, RolloutsAndOneStepMatchSingleRank) {
    const uint64_t seed = shared_seed();
    const std::vector<Prompt> prompts = make_prompts(seed, 10);
    const int W = world_size();
    for (int S = 2; S <= W; S *= 2) {
        if (W % S) continue;
        for (const Attention attention :
             {Attention{RingAttnFunc::batch_zigzag}, Attention{RingAttnFunc::batch_ring},
              Attention{RingAttnFunc::varlen_llama3},
              Attention{RingAttnFunc::batch_zigzag, ContextParallelBackend::ulysses},
              Attention{RingAttnFunc::batch_zigzag, ContextParallelBackend::usp, 2}}) {
            if (attention.backend == ContextParallelBackend::usp && S <= attention.ulysses_degree) continue;
            const Config config = make_config(seed, S, attention);
            TrainingSetup setup = make_model_setup(config);
            const Topology& t = setup.topology;
            const std::string where = fmt::format("{} ({}) S={} D={} (seed {})", name(attention.variant),
                                                  setup.context_parallel.reason, S, t.dp_size, seed);
            const int64_t per_group = config.training.micro_batch_size * config.training.gradient_accumulation_steps;
            RepeatSampler sampler(RepeatSamplerSettings{seed, 10, G, per_group, t.dp_size}, config.source);
            const int64_t step = 3;

            // Rollouts: split over the SP ranks and gathered vs each sampled alone on this rank.
            const std::vector<Rollout> mine = generate_rollouts(setup.model, prompts, sampler.prompts(step, t.dp_rank),
                                                                step, rollout_settings(seed), setup.comms.sp.get());
            std::vector<Rollout> all;  // every DP group's, in group order: the global batch
            for (int64_t group = 0; group < t.dp_size; group++) {
                const std::vector<Rollout> alone = generate_rollouts(setup.model, prompts, sampler.prompts(step, group),
                                                                     step, rollout_settings(seed), nullptr);
                all.insert(all.end(), alone.begin(), alone.end());
            }
            ASSERT_EQ(mine.size(), static_cast<size_t>(per_group));
            for (size_t j = 0; j < mine.size(); j++) {
                const Rollout& reference = all[static_cast<size_t>(t.dp_rank * per_group) + j];
                EXPECT_EQ(mine[j].completion, reference.completion) << where << ": rollout " << j;
                EXPECT_EQ(mine[j].prompt, reference.prompt) << where;
                EXPECT_EQ(mine[j].stopped, reference.stopped) << where;
            }

            // Rewards: random, the same on every rank; advantages per group of G.
            std::mt19937_64 rng(seed + 1);
            std::vector<double> rewards(all.size());
            for (double& reward : rewards) reward = static_cast<double>(rng() % 1000) / 1000.0;
            const std::vector<double> all_advantages = group_advantages(rewards, G, true);
            const std::vector<double> my_advantages(all_advantages.begin() + t.dp_rank * per_group,
                                                    all_advantages.begin() + (t.dp_rank + 1) * per_group);
            int64_t total_tokens = 0;
            for (const Rollout& rollout : all) total_tokens += static_cast<int64_t>(rollout.completion.size());
            const Llama reference_model = perturbed_copy(setup.model, seed + 2, 0.02);
            const Llama old_model = perturbed_copy(setup.model, seed + 3, 0.01);

            for (GrpoLossType type : {GrpoLossType::grpo, GrpoLossType::bnpo, GrpoLossType::dr_grpo}) {
                const GrpoNormaliser normaliser{type, static_cast<int64_t>(all.size()), total_tokens, 20};
                const GrpoLossSettings settings{0.2, 0.28, 0.04};
                const std::string case_name = fmt::format("{} {}", where, name(type));

                const GrpoBatchLayout parallel{config.training.micro_batch_size, setup.layout, &setup.forward};
                const auto ref_logps = score_rollouts(reference_model, prompts, mine, parallel);
                const auto old_logps = score_rollouts(old_model, prompts, mine, parallel);
                const GrpoLocalResult local = grpo_local_gradients(setup.model, prompts, mine, my_advantages, parallel,
                                                                   normaliser, settings, &old_logps, &ref_logps);
                double totals[2] = {local.loss, local.statistics.clipped};
                setup.comms.world->all_reduce(setup.model.gradients)->wait();
                setup.comms.world->all_reduce_sum(totals, 2);
                Tensor parallel_gradients = empty_like(setup.model.gradients);
                backend(parallel_gradients).copy(parallel_gradients, setup.model.gradients);

                const ForwardOptions local_forward;
                const GrpoBatchLayout single{config.training.micro_batch_size, SequenceLayout{}, &local_forward};
                const auto single_ref = score_rollouts(reference_model, prompts, all, single);
                const auto single_old = score_rollouts(old_model, prompts, all, single);
                const GrpoLocalResult expected = grpo_local_gradients(setup.model, prompts, all, all_advantages, single,
                                                                      normaliser, settings, &single_old, &single_ref);

                // The loss averages terms of size ~|A| whose advantages sum to zero per group, so
                // the total can cancel to ~1e-4 of its terms: measure the error against the size
                // of the terms (mean |A|), not against the cancelled total alone.
                double mean_abs_advantage = 0;
                for (double a : all_advantages) mean_abs_advantage += std::fabs(a) / static_cast<double>(all_advantages.size());
                const double loss_scale = std::max(std::fabs(expected.loss), mean_abs_advantage);
                EXPECT_LE(std::fabs(totals[0] - expected.loss) / loss_scale, 1e-5)
                    << case_name << ": loss " << totals[0] << " vs " << expected.loss << " (terms of size " << loss_scale
                    << ")";
                EXPECT_NEAR(totals[1], expected.statistics.clipped, 1.0) << case_name << ": clipped tokens (one may flip by rounding)";
                int64_t offset = 0;
                for (const NamedParameter& p : setup.model.named) {
                    const int64_t n = p.value.numel();
                    EXPECT_LE(max_relative_error(parallel_gradients.rows(offset, offset + n),
                                                 setup.model.gradients.rows(offset, offset + n)),
                              1e-5)
                        << case_name << ": gradient of " << p.name;
                    offset += n;
                }
            }
        }
    }
}

}  // namespace ringlm
