// GRPO arithmetic: group advantages and each loss_type against values computed by hand, the
// clipped surrogate and the k3 KL term token by token, the op's gradient against finite
// differences, and the whole loss and its gradient against an independent PyTorch
// implementation of TRL's loss (tests/reference/grpo_reference.py) on a random batch.
#include "reference_io.h"
#include "rl/advantages.h"
#include "rl/grpo_loss.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

namespace {

Tensor f64_vector(const std::vector<double>& values) {
    return from_vector<double>(values, {static_cast<int64_t>(values.size())});
}

// loss and d loss / d token_loss of grpo_loss on f64 token losses.
std::pair<double, std::vector<double>> loss_and_gradient(const std::vector<double>& token_losses,
                                                         const GrpoTokenInputs& inputs, const GrpoLossSettings& settings,
                                                         GrpoLossStatistics* statistics = nullptr) {
    Tensor x = f64_vector(token_losses), dx = zeros_like(x);
    Tape tape;
    Grads grads;
    grads.bind(x, dx);
    Tensor loss = grpo_loss(tape, x, inputs, settings, statistics);
    tape.backward(loss, grads);
    return {loss.data<double>()[0], to_vector<double>(dx)};
}

}  // namespace

TEST(GrpoAdvantages, MatchHandComputedValues) {
    // group 1: rewards 1 2 3 6: mean 3, sample std sqrt((4 + 1 + 0 + 9) / 3) = sqrt(14/3) = 2.16024690
    // group 2: rewards 5 5 5 5: std 0, advantages 0
    const std::vector<double> rewards{1, 2, 3, 6, 5, 5, 5, 5};
    const std::vector<double> scaled = group_advantages(rewards, 4, true);
    const double std1 = 2.1602468994692865 + 1e-4;
    const std::vector<double> expected{-2 / std1, -1 / std1, 0, 3 / std1, 0, 0, 0, 0};
    for (size_t j = 0; j < rewards.size(); j++) EXPECT_NEAR(scaled[j], expected[j], 1e-12) << j;
    const std::vector<double> unscaled = group_advantages(rewards, 4, false);
    const std::vector<double> expected_unscaled{-2, -1, 0, 3, 0, 0, 0, 0};
    for (size_t j = 0; j < rewards.size(); j++) EXPECT_DOUBLE_EQ(unscaled[j], expected_unscaled[j]) << j;
    // groups of 2: r = 0, 1: mean 0.5, sample std sqrt(0.5) = 0.70710678
    const std::vector<double> pair = group_advantages({0, 1}, 2, true);
    EXPECT_NEAR(pair[0], -0.5 / (0.7071067811865476 + 1e-4), 1e-12);
    EXPECT_NEAR(pair[1], 0.5 / (0.7071067811865476 + 1e-4), 1e-12);
}

TEST(GrpoLoss, EachLossTypeMatchesHandComputedValues) {
    // Two sequences: 2 completion tokens with A = 1, then a prompt token (weight 0), then
    // 4 completion tokens with A = -0.5. Ratio 1, no KL: l_t = -A_i.
    //   grpo:    mean(-1, +0.5) = -0.25;               d/d token_loss = A / (2 x n_i)
    //   bnpo:    (2 x -1 + 4 x 0.5) / 6 = 0;            d = A / 6
    //   dr_grpo: (2 x -1 + 4 x 0.5) / (2 x 8) = 0;      d = A / 16
    // and with A2 = -1: grpo 0, bnpo (−2 + 4)/6 = 1/3, dr_grpo 2/16 = 0.125.
    const std::vector<double> token_losses{0.7, 1.3, 2.0, 0.2, 0.9, 1.1, 3.0};
    const std::vector<int> sequence{0, 0, -1, 1, 1, 1, 1};
    const int64_t tokens_of[2] = {2, 4};
    struct Case {
        GrpoLossType type;
        double a2, loss;
        double weight[2];
    };
    const Case cases[] = {{GrpoLossType::grpo, -0.5, -0.25, {1.0 / 4, 1.0 / 8}},
                          {GrpoLossType::bnpo, -0.5, 0.0, {1.0 / 6, 1.0 / 6}},
                          {GrpoLossType::dr_grpo, -0.5, 0.0, {1.0 / 16, 1.0 / 16}},
                          {GrpoLossType::grpo, -1.0, 0.0, {1.0 / 4, 1.0 / 8}},
                          {GrpoLossType::bnpo, -1.0, 1.0 / 3, {1.0 / 6, 1.0 / 6}},
                          {GrpoLossType::dr_grpo, -1.0, 0.125, {1.0 / 16, 1.0 / 16}}};
    for (const Case& c : cases) {
        const double advantage_of[2] = {1.0, c.a2};
        GrpoTokenInputs inputs;
        for (int s : sequence) {
            inputs.weight.push_back(s < 0 ? 0.0 : grpo_token_weight(c.type, tokens_of[s], 2, 6, 8));
            inputs.advantage.push_back(s < 0 ? 0.0 : advantage_of[s]);
        }
        for (size_t t = 0; t < sequence.size(); t++)
            if (sequence[t] >= 0) {
                EXPECT_DOUBLE_EQ(inputs.weight[t], c.weight[sequence[t]]) << name(c.type);
            }
        const auto [loss, gradient] = loss_and_gradient(token_losses, inputs, GrpoLossSettings{});
        EXPECT_NEAR(loss, c.loss, 1e-12) << name(c.type) << " A2 " << c.a2;
        for (size_t t = 0; t < sequence.size(); t++) {
            const double expected = sequence[t] < 0 ? 0.0 : c.weight[sequence[t]] * advantage_of[sequence[t]];
            EXPECT_NEAR(gradient[t], expected, 1e-12) << name(c.type) << " token " << t;
        }
    }
}

TEST(GrpoLoss, ClippingAndKlTokenByToken) {
    // logp = old + log(1.5): ratio 1.5 > 1 + 0.2.
    //   A = +1: min(1.5, 1.2) = 1.2, clipped (no gradient);  A = -1: min(-1.5, -1.2) = -1.5, gradient flows.
    // logp = old + log(0.5): ratio 0.5 < 0.8.
    //   A = -1: min(-0.5, -0.8) = -0.8 clipped;              A = +1: min(0.5, 0.8) = 0.5 flows.
    // KL with beta 0.1, ref - logp = d: kl = e^d - d - 1, d kl/d logp = 1 - e^d.
    const double old = -2.0;
    const double logps[4] = {old + std::log(1.5), old + std::log(1.5), old + std::log(0.5), old + std::log(0.5)};
    const double advantages[4] = {1, -1, -1, 1};
    const double ratio[4] = {1.5, 1.5, 0.5, 0.5};
    const double surrogate[4] = {1.2, -1.5, -0.8, 0.5};
    const bool flows[4] = {false, true, false, true};
    const double d[4] = {0.3, -0.2, 0.5, -0.7};
    const double beta = 0.1;
    GrpoTokenInputs inputs;
    std::vector<double> token_losses;
    for (int t = 0; t < 4; t++) {
        token_losses.push_back(-logps[t]);
        inputs.weight.push_back(1.0);
        inputs.advantage.push_back(advantages[t]);
        inputs.old_logp.push_back(static_cast<float>(old));
        inputs.ref_logp.push_back(static_cast<float>(logps[t] + d[t]));
    }
    GrpoLossStatistics statistics;
    const auto [loss, gradient] = loss_and_gradient(token_losses, inputs, GrpoLossSettings{0.2, 0.2, beta}, &statistics);
    double expected_loss = 0, expected_kl = 0;
    for (int t = 0; t < 4; t++) {
        // ref as stored in f32: recompute d from it
        const double dt = static_cast<double>(inputs.ref_logp[t]) - logps[t];
        const double kl = std::exp(dt) - dt - 1;
        expected_loss += -surrogate[t] + beta * kl;
        expected_kl += kl;
        // d loss/d logp = -(ratio A if it flows) + beta (1 - e^d); d/d token_loss = -that
        const double old_f32 = static_cast<double>(static_cast<float>(old));
        const double r = std::exp(logps[t] - old_f32);
        const double d_logp = -(flows[t] ? r * advantages[t] : 0.0) + beta * (1 - std::exp(dt));
        EXPECT_NEAR(gradient[t], -d_logp, 1e-7) << "token " << t << " ratio " << ratio[t];
    }
    EXPECT_NEAR(loss, expected_loss, 1e-6);
    EXPECT_NEAR(statistics.kl_sum, expected_kl, 1e-12);
    EXPECT_EQ(statistics.clipped, 2.0);
    EXPECT_EQ(statistics.tokens, 4.0);
}

TEST(GrpoLoss, GradientMatchesFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    const int T = 12;
    GrpoTokenInputs inputs;
    std::vector<double> token_losses;
    for (int t = 0; t < T; t++) {
        token_losses.push_back(2.0 + uniform(rng));
        inputs.weight.push_back(t % 5 == 0 ? 0.0 : 0.1 + 0.05 * (uniform(rng) + 1));
        inputs.advantage.push_back(uniform(rng));
        // old log-probs near the current ones: ratios in [0.6, 1.6], some clipped
        inputs.old_logp.push_back(static_cast<float>(-token_losses.back() + 0.5 * uniform(rng)));
        inputs.ref_logp.push_back(static_cast<float>(-token_losses.back() + uniform(rng)));
    }
    const GrpoLossSettings settings{0.2, 0.28, 0.04};
    OpUnderTest op = [&](Tape& tape, const std::vector<Tensor>& in) { return grpo_loss(tape, in[0], inputs, settings); };
    const GradientCheck check = check_gradients_f64(op, {f64_vector(token_losses)}, {0}, rng);
    EXPECT_LE(check.max_error, 1e-6) << check.worst << ", seed " << seed;
}

TEST(GrpoLoss, MatchesPyTorchReferenceForEveryLossType) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    const int64_t B = 5, L = 7;
    // Random completion lengths 1..L; padded [B, L] for PyTorch, flat tokens (with a prompt
    // token of weight 0 before each sequence) for ringlm.
    std::vector<int64_t> lengths;
    std::vector<double> logp(B * L, 0.0), old_logp(B * L, 0.0), ref_logp(B * L, 0.0), mask(B * L, 0.0), advantages;
    for (int64_t b = 0; b < B; b++) {
        lengths.push_back(1 + static_cast<int64_t>(rng() % L));
        advantages.push_back(uniform(rng));
        for (int64_t i = 0; i < L; i++) {
            const size_t at = static_cast<size_t>(b * L + i);
            logp[at] = -2.0 + uniform(rng);
            // f32-representable so both sides see the same old/ref values
            old_logp[at] = static_cast<float>(logp[at] + 0.4 * uniform(rng));
            ref_logp[at] = static_cast<float>(logp[at] + 0.8 * uniform(rng));
            mask[at] = i < lengths[b] ? 1.0 : 0.0;
        }
    }
    int64_t total_tokens = 0;
    for (int64_t n : lengths) total_tokens += n;
    // One Python run for the three loss types (importing torch dominates the time).
    const std::string folder = make_temp_folder("grpo_reference");
    const std::string meta = fmt::format(R"({{"loss_types": ["grpo", "bnpo", "dr_grpo"], "epsilon": 0.2, "epsilon_high": 0.28, "beta": 0.05, "max_completion_length": {}}})", L);
    write_reference_folder(folder + "/in", meta,
                           {{"logp", from_vector<double>(logp, {B, L})},
                            {"old_logp", from_vector<double>(old_logp, {B, L})},
                            {"ref_logp", from_vector<double>(ref_logp, {B, L})},
                            {"mask", from_vector<double>(mask, {B, L})},
                            {"advantages", from_vector<double>(advantages, {B})}});
    run_python_reference("grpo_reference.py", folder + "/in " + folder + "/out");
    std::map<std::string, Tensor> expected = read_reference_folder(folder + "/out");
    for (GrpoLossType type : {GrpoLossType::grpo, GrpoLossType::bnpo, GrpoLossType::dr_grpo}) {
        const GrpoLossSettings settings{0.2, 0.28, 0.05};
        GrpoTokenInputs inputs;
        std::vector<double> token_losses;
        std::vector<size_t> padded_index;  // flat token -> [b, i], or SIZE_MAX for the prompt token
        for (int64_t b = 0; b < B; b++) {
            token_losses.push_back(1.0);
            inputs.weight.push_back(0.0);
            inputs.advantage.push_back(0.0);
            inputs.old_logp.push_back(0.0f);
            inputs.ref_logp.push_back(0.0f);
            padded_index.push_back(SIZE_MAX);
            for (int64_t i = 0; i < lengths[b]; i++) {
                const size_t at = static_cast<size_t>(b * L + i);
                token_losses.push_back(-logp[at]);
                inputs.weight.push_back(grpo_token_weight(type, lengths[b], B, total_tokens, L));
                inputs.advantage.push_back(advantages[b]);
                inputs.old_logp.push_back(static_cast<float>(old_logp[at]));
                inputs.ref_logp.push_back(static_cast<float>(ref_logp[at]));
                padded_index.push_back(at);
            }
        }
        const auto [loss, gradient] = loss_and_gradient(token_losses, inputs, settings);

        const double reference_loss = expected.at(fmt::format("loss.{}", name(type))).data<double>()[0];
        EXPECT_NEAR(loss, reference_loss, 1e-12 + 1e-10 * std::fabs(reference_loss)) << name(type) << ", seed " << seed;
        const double* reference_gradient = expected.at(fmt::format("grad_logp.{}", name(type))).data<double>();
        double worst = 0, scale = 0;
        for (size_t t = 0; t < token_losses.size(); t++) {
            // d loss / d token_loss = -d loss / d logp; prompt tokens get none
            const double want = padded_index[t] == SIZE_MAX ? 0.0 : -reference_gradient[padded_index[t]];
            worst = std::max(worst, std::fabs(gradient[t] - want));
            scale = std::max(scale, std::fabs(want));
        }
        EXPECT_LE(worst / scale, 1e-10) << name(type) << ", seed " << seed;
    }
}

}  // namespace ringlm
