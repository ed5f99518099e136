// The model with bf16 matmuls (config `bf16: true`) on the CPU backend: 20 training steps
// against the same run in f32 (losses within bf16 tolerance), with the master weights f32
// throughout and the bf16 copy remade from them after every optimizer step.
#include "parallel/chunk_layout.h"
#include "model/llama.h"
#include "ops/ops.h"
#include "test_util.h"
#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace ringlm {
using namespace ringlm::testing;

namespace {

ModelConfig tiny_config() { return tiny_model_config(67, 64, false, 64); }

// Rows of two documents each whose tokens follow next = (5 token + 1) mod V three times in
// four (so the loss falls), fresh rows every step.
std::vector<TokenBatch> learnable_batches(std::mt19937_64& rng, int64_t steps, int64_t sequence_len, int32_t vocab) {
    std::vector<std::vector<int32_t>> documents;
    std::vector<std::vector<PackedRow>> rows_per_step;
    for (int64_t step = 0; step < steps; step++) {
        std::vector<PackedRow> rows;
        for (int row = 0; row < 2; row++) {
            PackedRow packed;
            const int64_t first = 10 + static_cast<int64_t>(rng() % 30);
            for (int64_t length : {first, sequence_len - first}) {
                std::vector<int32_t> tokens(static_cast<size_t>(length));
                tokens[0] = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
                for (size_t t = 1; t < tokens.size(); t++)
                    tokens[t] = rng() % 4 == 0 ? static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab))
                                               : (5 * tokens[t - 1] + 1) % vocab;
                packed.pieces.push_back({static_cast<int64_t>(documents.size()), 0, length});
                packed.used += length;
                documents.push_back(std::move(tokens));
            }
            rows.push_back(packed);
        }
        rows_per_step.push_back(rows);
    }
    const DocumentReader reader = [&documents](int64_t d) { return DocumentTokens{documents[static_cast<size_t>(d)], {}}; };
    std::vector<TokenBatch> batches;
    for (const auto& rows : rows_per_step) batches.push_back(make_token_batch(rows, sequence_len, reader, SequenceLayout{}));
    return batches;
}

// Losses before each of the steps; checks after every step that the bf16 copy is bf16(master).
std::vector<double> train(const ModelConfig& config, uint64_t seed, const std::vector<TokenBatch>& batches, bool bf16,
                          bool checkpointing) {
    Llama model = make_llama(config);
    init_llama_weights(model, seed);
    if (bf16) enable_bf16_matmuls(model);
    AdamW optimizer = make_adamw(model, AdamWSettings{0.9, 0.95, 1e-8, 0.1, 1.0});
    ForwardOptions options;
    options.gradient_checkpointing = checkpointing;
    options.loss_chunk_rows = 24;
    std::vector<double> losses;
    for (const TokenBatch& batch : batches) {
        backend(model.gradients).fill(model.gradients, 0.0);
        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        Tensor loss_sum = sum(tape, llama_token_losses(tape, model, batch, options));
        tape.backward(loss_sum, grads);
        const double tokens = static_cast<double>(count_loss_tokens(batch));
        losses.push_back(loss_sum.data<float>()[0] / tokens);
        adamw_step(optimizer, model, 3e-3, tokens);

        EXPECT_EQ(model.parameters.dtype(), DType::f32);
        EXPECT_EQ(model.gradients.dtype(), DType::f32);
        if (bf16) {
            // the copy the next forward reads: every element bf16(master), bit for bit
            const float* master = model.parameters.data<float>();
            const bfloat16* copy = model.parameters_bf16.data<bfloat16>();
            int64_t stale = 0;
            for (int64_t i = 0; i < model.n_parameters(); i++) stale += copy[i].bits != to_bfloat16(master[i]).bits;
            EXPECT_EQ(stale, 0) << "elements of the bf16 copy not remade after the optimizer step";
        }
    }
    return losses;
}

void compare_bf16_with_f32(bool checkpointing) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const ModelConfig config = tiny_config();
    const std::vector<TokenBatch> batches = learnable_batches(rng, 20, 64, static_cast<int32_t>(config.vocab_size));
    const std::vector<double> f32 = train(config, seed, batches, false, checkpointing);
    const std::vector<double> bf16 = train(config, seed, batches, true, checkpointing);
    double worst = 0;
    for (size_t step = 0; step < f32.size(); step++) {
        const double error = std::fabs(bf16[step] - f32[step]) / f32[step];
        EXPECT_LE(error, 1e-2) << "step " << step + 1 << ": bf16 " << bf16[step] << " vs f32 " << f32[step]
                               << ", seed " << seed;
        worst = std::max(worst, error);
    }
    EXPECT_LT(f32.back(), f32.front() - 0.2) << "the run does not learn, seed " << seed;
    std::printf("bf16 vs f32 over 20 steps: worst relative loss difference %.2e (loss %.4f -> %.4f)\n", worst,
                f32.front(), f32.back());
}

}  // namespace

TEST(LlamaBf16, TrainingMatchesF32WithinBf16Tolerance) { compare_bf16_with_f32(false); }

TEST(LlamaBf16, CheckpointingGivesTheSameGradientsAsWithout) {
    // The replay of a checkpointed layer casts again from the same f32 values: the same bits.
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const ModelConfig config = tiny_config();
    const std::vector<TokenBatch> batches = learnable_batches(rng, 1, 64, static_cast<int32_t>(config.vocab_size));
    auto gradients = [&](bool checkpointing) {
        Llama model = make_llama(config);
        init_llama_weights(model, seed);
        enable_bf16_matmuls(model);
        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        ForwardOptions options;
        options.gradient_checkpointing = checkpointing;
        tape.backward(sum(tape, llama_token_losses(tape, model, batches[0], options)), grads);
        return to_vector<float>(model.gradients);
    };
    EXPECT_EQ(gradients(true), gradients(false)) << "seed " << seed;
}

TEST(LlamaBf16, LoadingWeightsRemakesTheBf16Copy) {
    const uint64_t seed = fresh_seed();
    Llama model = make_llama(tiny_config());
    init_llama_weights(model, seed);
    enable_bf16_matmuls(model);
    Llama other = make_llama(tiny_config());
    init_llama_weights(other, seed + 1);
    std::vector<std::pair<std::string, Tensor>> named;
    for (const NamedParameter& p : other.named) named.emplace_back(p.name, p.value);
    load_parameters(model, named, "test");
    const float* master = model.parameters.data<float>();
    const bfloat16* copy = model.parameters_bf16.data<bfloat16>();
    for (int64_t i = 0; i < model.n_parameters(); i++)
        ASSERT_EQ(copy[i].bits, to_bfloat16(master[i]).bits) << "element " << i << ", seed " << seed;
    // the views are where the matmuls read them: wq of layer 1 is bf16(wq of layer 1)
    const Tensor& wq = model.layers[1].wq;
    const Tensor& wq_bf16 = model.layers_bf16[1].wq;
    ASSERT_EQ(wq_bf16.shape(), wq.shape());
    for (int64_t i = 0; i < wq.numel(); i++)
        ASSERT_EQ(wq_bf16.data<bfloat16>()[i].bits, to_bfloat16(wq.data<float>()[i]).bits) << "wq element " << i;
}

}  // namespace ringlm
