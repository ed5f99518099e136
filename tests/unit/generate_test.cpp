// Batched KV-cache generation (src/model/generate.h):
//  - decode_step's logits for a batch of sequences of different lengths, fed prompt by
//    prefill and then token by token with sequences leaving the batch, equal the logits of a
//    full forward of each sequence alone (no cache) within 1e-5 relative;
//  - generate_batch gives each prompt exactly the tokens of generating it alone, greedy and
//    sampled with top-p, in a batch where some completions stop early, some run to
//    max_new_tokens and one is cut at the model's max_position.
#include "model/generate.h"

#include "ops/ops.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <tuple>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// A vocabulary of 12 (so BOS/EOS come up often when sampling), and a max_position short
// enough for one prompt to reach it.
ModelConfig small_config() { return tiny_model_config(12, 40); }

// The families' extras in the decode path (the KV cache holds post-norm, post-RoPE keys):
// Qwen2's q/k/v biases with llama3 RoPE, Qwen3's q/k norms with head_dim 16 != 32 / 4 and YaRN.
ModelConfig family_config(int family) {
    ModelConfig c = small_config();
    if (family == 1) {
        c.qkv_bias = true;
        c.rope_scaling = {.type = "llama3", .factor = 8.0, .original_max_position = 64};
    } else if (family == 2) {
        c.qk_norm = true;
        c.head_size = 16;
        c.rope_scaling = {.type = "yarn", .factor = 4.0, .original_max_position = 16};
    }
    return c;
}

Llama random_model(uint64_t seed, const ModelConfig& config = small_config()) {
    Llama model = make_llama(config);
    init_llama_weights(model, seed);
    // Larger than GPT-2's 0.02 so the logits are far from uniform (and vary with the input).
    float* values = model.parameters.data<float>();
    for (int64_t i = 0; i < model.parameters.numel(); i++) values[i] *= 10.0f;
    for (const NamedParameter& p : model.named)
        if (!p.decay) std::fill(p.value.data<float>(), p.value.data<float>() + p.value.numel(), 1.0f);
    return model;
}

std::vector<int32_t> random_tokens(std::mt19937_64& rng, int64_t length, int32_t vocab) {
    std::vector<int32_t> tokens{1};  // BOS first
    while (static_cast<int64_t>(tokens.size()) < length) tokens.push_back(static_cast<int32_t>(3 + rng() % (vocab - 3)));
    return tokens;
}

// Logits of every position of `tokens` by a full forward without a cache, f64 on the host:
// logits[t][v] = sum_c hidden[t][c] output[v][c].
std::vector<std::vector<double>> full_forward_logits(const Llama& model, const std::vector<int32_t>& tokens) {
    const int64_t T = static_cast<int64_t>(tokens.size()), C = model.config.dim, V = model.config.vocab_size;
    std::vector<int32_t> positions(static_cast<size_t>(T)), segments(static_cast<size_t>(T), 0), labels(tokens.size(), -100);
    for (int64_t t = 0; t < T; t++) positions[t] = static_cast<int32_t>(t);
    TokenBatch batch{from_vector<int32_t>(tokens, {T}), from_vector<int32_t>(positions, {T}),
                     from_vector<int32_t>(positions, {T}), from_vector<int32_t>(segments, {T}),
                     from_vector<int32_t>(labels, {T}), {}};
    Tape tape(Tape::Mode::inference);
    const Tensor hidden = llama_hidden(tape, model, batch);
    const float* h = hidden.data<float>();
    const float* w = model.output.data<float>();
    std::vector<std::vector<double>> logits(static_cast<size_t>(T), std::vector<double>(static_cast<size_t>(V)));
    for (int64_t t = 0; t < T; t++)
        for (int64_t v = 0; v < V; v++) {
            double sum = 0;
            for (int64_t c = 0; c < C; c++) sum += static_cast<double>(h[t * C + c]) * w[v * C + c];
            logits[t][v] = sum;
        }
    return logits;
}

double relative_error(const std::vector<float>& actual, const std::vector<double>& expected) {
    double scale = 0, error = 0;
    for (size_t i = 0; i < expected.size(); i++) {
        scale = std::max(scale, std::abs(expected[i]));
        error = std::max(error, std::abs(actual[i] - expected[i]));
    }
    return error / std::max(scale, 1e-30);
}

}  // namespace

TEST(Generate, BatchedDecodeMatchesFullForward) {
    for (int family = 0; family < 3; family++) {
        const uint64_t seed = fresh_seed();
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " family " << family);
        std::mt19937_64 rng(seed);
        const Llama model = random_model(seed, family_config(family));
        // Sequence i: a prompt of prompt_lengths[i] tokens, then continuation tokens fed one at a
        // time until it reaches total_lengths[i] (sequences leave the batch at different steps).
        const std::vector<int64_t> prompt_lengths{5, 1, 13, 8, 30}, total_lengths{12, 9, 14, 30, 40};
        const int64_t B = static_cast<int64_t>(prompt_lengths.size());
        std::vector<std::vector<int32_t>> sequences;
        for (int64_t i = 0; i < B; i++) sequences.push_back(random_tokens(rng, total_lengths[i], 12));

        BatchKvCache cache = make_batch_kv_cache(model, B, 40);
        std::vector<int64_t> running;
        std::vector<std::vector<int32_t>> inputs;
        for (int64_t i = 0; i < B; i++) {
            running.push_back(i);
            inputs.emplace_back(sequences[i].begin(), sequences[i].begin() + prompt_lengths[i]);
        }
        std::vector<std::vector<std::vector<float>>> decoded(static_cast<size_t>(B));  // [i][position]
        for (int64_t i = 0; i < B; i++) decoded[i].resize(static_cast<size_t>(total_lengths[i]));
        while (!running.empty()) {
            const auto logits = decode_step(model, cache, running, inputs);
            std::vector<int64_t> next_running;
            std::vector<std::vector<int32_t>> next_inputs;
            for (size_t r = 0; r < running.size(); r++) {
                const int64_t i = running[r], length = cache.lengths[i];
                decoded[i][static_cast<size_t>(length - 1)] = logits[r];
                if (length == total_lengths[i]) continue;
                next_running.push_back(i);
                next_inputs.push_back({sequences[i][static_cast<size_t>(length)]});
            }
            running = next_running;
            inputs = next_inputs;
        }
        double worst = 0;
        for (int64_t i = 0; i < B; i++) {
            const auto expected = full_forward_logits(model, sequences[i]);
            for (int64_t t = prompt_lengths[i] - 1; t < total_lengths[i]; t++) {
                const double error = relative_error(decoded[i][t], expected[t]);
                worst = std::max(worst, error);
                EXPECT_LE(error, 1e-5) << "sequence " << i << " position " << t;
            }
        }
        std::printf("batched decode vs full forward (family %d): max relative error %.2e\n", family, worst);
    }
}

TEST(Generate, BatchEqualsOneAtATime) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    for (const double temperature : {0.0, 1.0}) {
        SamplingOptions options;
        options.max_new_tokens = 14;
        options.temperature = temperature;
        options.top_p = 0.9;
        // Draw prompts until the batch covers every way to end: a stop token, max_new_tokens,
        // and max_position (the 32-token prompt: 40 - 32 < 14 new tokens). Some random models
        // never (or always) emit a stop token: then draw another model.
        std::optional<Llama> drawn;
        std::vector<std::vector<int32_t>> prompts;
        std::vector<uint64_t> seeds;
        std::vector<Completion> alone;
        bool covered = false;
        for (int attempt = 0; attempt < 400 && !covered; attempt++) {
            if (attempt % 20 == 0) drawn.emplace(random_model(rng()));
            const Llama& model = *drawn;
            prompts.clear(), seeds.clear(), alone.clear();
            for (int64_t length : {3, 1, 9, 32, 6, 14, 2, 5}) {
                prompts.push_back(random_tokens(rng, length, 12));
                seeds.push_back(rng());
                alone.push_back(generate_batch(model, {prompts.back()}, {seeds.back()}, options)[0]);
            }
            const bool some_stop = std::any_of(alone.begin(), alone.end(), [](const Completion& c) { return c.stopped; });
            const bool some_full = std::any_of(alone.begin(), alone.end(), [&](const Completion& c) {
                return !c.stopped && static_cast<int64_t>(c.tokens.size()) == options.max_new_tokens;
            });
            covered = some_stop && some_full && alone[3].tokens.size() == 9 && !alone[3].stopped;
        }
        ASSERT_TRUE(covered) << "temperature " << temperature << ": no draw of 20 models x 20 batches ended every way";
        const Llama& model = *drawn;
        const std::vector<Completion> batched = generate_batch(model, prompts, seeds, options);
        for (size_t i = 0; i < prompts.size(); i++) {
            EXPECT_EQ(batched[i].tokens, alone[i].tokens) << "temperature " << temperature << ", prompt " << i;
            EXPECT_EQ(batched[i].stopped, alone[i].stopped) << "temperature " << temperature << ", prompt " << i;
        }
        // generate() is the batch of one, without the stop token.
        options.seed = seeds[0];
        std::vector<int32_t> expected = alone[0].tokens;
        if (alone[0].stopped) expected.pop_back();
        EXPECT_EQ(generate(model, prompts[0], options), expected);
    }
}

}  // namespace ringlm

namespace ringlm {
using namespace ringlm::testing;

// cache_attention_mask's host facts describe its own tensors: for a prefill from position 0, a
// chunk after a prefix, and one decoding token, the ranges and consecutive flags equal a scan of
// the index and segment tensors, and so does the mask kind cuDNN's dispatch takes from them (a
// prefill from 0 is the causal diagonal block; a later chunk is neither it nor fully visible).
TEST(Generate, CacheMaskFactsEqualItsTensors) {
    const Llama model = make_llama(tiny_model_config(12, 40), Device::cpu, ModelUse::inference);
    const BatchKvCache cache = make_batch_kv_cache(model, 2, 40);
    const auto scan = [](const Tensor& index, const Tensor& segment) {
        const int32_t* i = index.data<int32_t>();
        const int32_t* s = segment.data<int32_t>();
        const int64_t T = index.numel();
        KnownTokens known{{*std::min_element(i, i + T), *std::max_element(i, i + T), *std::min_element(s, s + T),
                           *std::max_element(s, s + T)},
                          true};
        for (int64_t t = 1; t < T; t++) known.consecutive = known.consecutive && i[t] == i[t - 1] + 1;
        return known;
    };
    const auto expect_same = [](const KnownTokens& known, const KnownTokens& scanned) {
        EXPECT_EQ(known.index_min, scanned.index_min);
        EXPECT_EQ(known.index_max, scanned.index_max);
        EXPECT_EQ(known.segment_min, scanned.segment_min);
        EXPECT_EQ(known.segment_max, scanned.segment_max);
        EXPECT_EQ(known.consecutive, scanned.consecutive);
    };
    for (const auto& [start, n, kind] : {std::tuple{0, 17, MaskKind::diagonal}, std::tuple{9, 13, MaskKind::other},
                                         std::tuple{30, 1, MaskKind::all_visible}}) {
        SCOPED_TRACE(::testing::Message() << "start " << start << ", " << n << " new tokens");
        std::vector<int32_t> positions;
        for (int32_t t = 0; t < n; t++) positions.push_back(start + t);  // as decode_step makes them
        const AttentionMask mask = cache_attention_mask(cache, from_vector(positions, {n}), start);
        ASSERT_TRUE(mask.known_q && mask.known_k);
        const KnownTokens q = scan(mask.q_index, mask.q_segment), k = scan(mask.k_index, mask.k_segment);
        expect_same(*mask.known_q, q);
        expect_same(*mask.known_k, k);
        EXPECT_EQ(mask_kind(mask_facts(*mask.known_q, *mask.known_k), n, start + n, true), kind);
        EXPECT_EQ(mask_kind(mask_facts(q, k), n, start + n, true), kind);
    }
}

}  // namespace ringlm
