// Training is bit-for-bit repeatable at a given thread count: every CPU kernel splits its work
// by the thread count alone (OpenMP static schedules and reductions, the attention backward's
// dQ splits, OpenBLAS's partition, the packed GEMM's row blocks), never by timing. Across thread counts the last bits may
// differ (reductions add per-thread partial sums; attention's backward sums dQ over
// threads / KV-heads splits): measured and printed here, not required.
#include "backend/cpu/cpu_threads.h"
#include "model/llama.h"
#include "ops/ops.h"
#include "parallel/chunk_layout.h"
#include "test_util.h"
#include "train/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// Large enough that the element-wise kernels pass their OpenMP thresholds (64 K elements) and
// attention has several work items per thread.
ModelConfig model_config() {
    ModelConfig m = tiny_model_config(512, 512, false, 384);
    m.dim = 128;
    m.n_heads = 4;
    m.n_kv_heads = 2;
    return m;
}

// Rows of two random documents each, fresh every step.
std::vector<TokenBatch> random_batches(std::mt19937_64& rng, int64_t steps, int64_t sequence_len, int32_t vocab) {
    std::vector<std::vector<int32_t>> documents;
    std::vector<std::vector<PackedRow>> rows_per_step(static_cast<size_t>(steps));
    for (auto& rows : rows_per_step) {
        for (int row = 0; row < 2; row++) {
            PackedRow packed;
            const int64_t first = 16 + static_cast<int64_t>(rng() % (sequence_len / 2));
            for (int64_t length : {first, sequence_len - first}) {
                std::vector<int32_t> tokens(static_cast<size_t>(length));
                for (int32_t& token : tokens) token = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
                packed.pieces.push_back({static_cast<int64_t>(documents.size()), 0, length});
                packed.used += length;
                documents.push_back(std::move(tokens));
            }
            rows.push_back(packed);
        }
    }
    const DocumentReader reader = [&documents](int64_t d) { return DocumentTokens{documents[static_cast<size_t>(d)], {}}; };
    std::vector<TokenBatch> batches;
    for (const auto& rows : rows_per_step) batches.push_back(make_token_batch(rows, sequence_len, reader, SequenceLayout{}));
    return batches;
}

// The weights after a training step per batch (forward, backward, AdamW) at `threads` threads.
std::vector<float> trained_weights(const ModelConfig& config, uint64_t seed, const std::vector<TokenBatch>& batches,
                                   int threads) {
    set_cpu_threads(threads);
    Llama model = make_llama(config);
    init_llama_weights(model, seed);
    AdamW optimizer = make_adamw(model, AdamWSettings{0.9, 0.95, 1e-8, 0.1, 1.0});
    for (const TokenBatch& batch : batches) {
        backend(model.gradients).fill(model.gradients, 0.0);
        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        Tensor loss_sum = sum(tape, llama_token_losses(tape, model, batch));
        tape.backward(loss_sum, grads);
        adamw_step(optimizer, model, 1e-3, static_cast<double>(count_loss_tokens(batch)));
    }
    const float* weights = model.parameters.data<float>();
    return std::vector<float>(weights, weights + model.n_parameters());
}

}  // namespace

TEST(ThreadDeterminism, SameThreadCountSameBits) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const ModelConfig config = model_config();
    const std::vector<TokenBatch> batches = random_batches(rng, 3, 256, static_cast<int32_t>(config.vocab_size));
    const int threads_before = cpu_threads();
    std::vector<float> first_of[3];
    for (int threads : {1, 2}) {
        const std::vector<float> first = trained_weights(config, seed, batches, threads);
        const std::vector<float> second = trained_weights(config, seed, batches, threads);
        int64_t differing = 0;
        for (size_t i = 0; i < first.size(); i++) differing += std::memcmp(&first[i], &second[i], sizeof(float)) != 0;
        EXPECT_EQ(differing, 0) << threads << " thread(s): weights differ between two identical runs (seed " << seed << ")";
        first_of[threads] = first;
    }
    set_cpu_threads(threads_before);
    double worst = 0;
    int64_t differing = 0;
    for (size_t i = 0; i < first_of[1].size(); i++) {
        const double a = first_of[1][i], b = first_of[2][i];
        differing += a != b;
        worst = std::max(worst, std::fabs(a - b) / std::max(std::fabs(a), 1e-30));
    }
    std::printf("1 vs 2 threads after %zu steps: %lld of %zu weights differ, worst relative difference %.2e\n",
                batches.size(), static_cast<long long>(differing), first_of[1].size(), worst);
}

}  // namespace ringlm
