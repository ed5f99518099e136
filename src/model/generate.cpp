#include "model/generate.h"

#include "data/batch.h"
#include "data/tokenizer.h"
#include "ops/ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace ringlm {

namespace {

Tensor host_i32(const std::vector<int32_t>& values) { return from_vector<int32_t>(values, {static_cast<int64_t>(values.size())}); }

}  // namespace

BatchKvCache make_batch_kv_cache(const Llama& model, int64_t sequences, int64_t capacity) {
    const ModelConfig& c = model.config;
    const Device device = model.parameters.device();
    BatchKvCache cache;
    cache.capacity = capacity;
    cache.lengths.assign(static_cast<size_t>(sequences), 0);
    for (int64_t i = 0; i < c.n_layers; i++) {
        cache.k.push_back(zeros({sequences * capacity, c.n_kv_heads, c.head_dim()}, DType::f32, device));
        cache.v.push_back(zeros({sequences * capacity, c.n_kv_heads, c.head_dim()}, DType::f32, device));
    }
    std::vector<int32_t> positions(static_cast<size_t>(capacity));
    std::iota(positions.begin(), positions.end(), 0);
    cache.key_positions = to_device(host_i32(positions), device);
    cache.zero_segments = zeros({capacity}, DType::i32, device);
    return cache;
}

AttentionMask cache_attention_mask(const BatchKvCache& cache, const Tensor& positions, int64_t start) {
    const int64_t n = positions.numel(), end = start + n;
    AttentionMask mask{positions, cache.zero_segments.rows(0, n), cache.key_positions.rows(0, end),
                       cache.zero_segments.rows(0, end), true, {}, {}};
    const auto last = static_cast<int32_t>(end - 1);
    mask.known_q = KnownTokens{{static_cast<int32_t>(start), last, 0, 0}, true};
    mask.known_k = KnownTokens{{0, last, 0, 0}, true};
    return mask;
}

std::vector<std::vector<float>> decode_step(const Llama& model, BatchKvCache& cache,
                                            const std::vector<int64_t>& sequences,
                                            const std::vector<std::vector<int32_t>>& new_tokens) {
    const ModelConfig& c = model.config;
    const int64_t B = static_cast<int64_t>(sequences.size()), D = c.head_dim();
    if (B == 0 || new_tokens.size() != sequences.size())
        fail("generate: {} sequences with {} token lists to decode", B, new_tokens.size());
    // The batch's rows: sequence i's new tokens are rows [row_begin[i], row_begin[i + 1]).
    std::vector<int64_t> row_begin(static_cast<size_t>(B) + 1, 0);
    std::vector<int32_t> ids, positions, last_rows;
    for (int64_t i = 0; i < B; i++) {
        const int64_t sequence = sequences[i], n = static_cast<int64_t>(new_tokens[i].size());
        if (sequence < 0 || sequence >= static_cast<int64_t>(cache.lengths.size()) || n == 0)
            fail("generate: sequence {} of a KV cache for {}, with {} new tokens", sequence, cache.lengths.size(), n);
        const int64_t start = cache.lengths[sequence];
        if (start + n > cache.capacity)
            fail("generate: {} tokens exceed the KV cache of {} (the model's max_position is {})", start + n,
                 cache.capacity, c.max_position);
        for (int64_t t = 0; t < n; t++) {
            ids.push_back(new_tokens[i][t]);
            positions.push_back(static_cast<int32_t>(start + t));
        }
        row_begin[i + 1] = row_begin[i] + n;
        last_rows.push_back(static_cast<int32_t>(row_begin[i + 1] - 1));
    }
    const int64_t T = row_begin[B];
    const Device device = model.parameters.device();
    Tensor token_ids = to_device(host_i32(ids), device), position_ids = to_device(host_i32(positions), device);
    // The model's own decoder layers, with attention against the cache: each sequence's new
    // keys and values are appended to its slice, then its queries attend to the whole slice.
    // Per sequence: one call over the packed batch with segment ids would compute (and mask)
    // every sequence's keys for every query tile.
    TokenBatch batch;
    batch.input_ids = token_ids;
    batch.position_ids = position_ids;
    ForwardOptions options;
    options.attention = [&](Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, const TokenBatch&,
                            double scale, int64_t l) {
        Tensor attended = empty({T, c.n_heads, D}, DType::f32, device);
        for (int64_t i = 0; i < B; i++) {
            const int64_t first = row_begin[i], last = row_begin[i + 1], n = last - first;
            const int64_t slot = sequences[i] * cache.capacity, start = cache.lengths[sequences[i]], end = start + n;
            Tensor k_new = cache.k[l].rows(slot + start, slot + end), v_new = cache.v[l].rows(slot + start, slot + end);
            backend(k).copy(k_new, k.rows(first, last));
            backend(v).copy(v_new, v.rows(first, last));
            const AttentionMask mask = cache_attention_mask(cache, position_ids.rows(first, last), start);
            Tensor out = attention(tape, q.rows(first, last), cache.k[l].rows(slot, slot + end),
                                   cache.v[l].rows(slot, slot + end), mask, scale);
            Tensor destination = attended.rows(first, last);
            backend(out).copy(destination, out);
        }
        return attended;
    };
    Tape tape(Tape::Mode::inference);
    const Tensor hidden = llama_hidden(tape, model, batch, options);  // final norm applied
    for (int64_t i = 0; i < B; i++) cache.lengths[sequences[i]] += row_begin[i + 1] - row_begin[i];

    // Logits of each sequence's last new token only. Decoding (one token each) that is every
    // row; after a prefill the rows are picked out with the embedding lookup's gather.
    Tensor last = T == B ? hidden : embedding(tape, hidden, to_device(host_i32(last_rows), device));
    Tensor logits = linear(tape, last, model.output);
    Tensor host = empty({B, c.vocab_size}, DType::f32);
    backend(logits).copy(host, logits);  // the backend of a device tensor copies to the host
    const float* values = host.data<float>();
    std::vector<std::vector<float>> result(static_cast<size_t>(B));
    for (int64_t i = 0; i < B; i++) result[i].assign(values + i * c.vocab_size, values + (i + 1) * c.vocab_size);
    return result;
}

int32_t sample_token(const std::vector<float>& logits, const SamplingOptions& options, std::mt19937_64& rng) {
    if (options.temperature <= 0)
        return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    // p_i = softmax(logits / temperature), then keep the most likely tokens up to mass top_p.
    const double max_logit = *std::max_element(logits.begin(), logits.end());
    std::vector<std::pair<double, int32_t>> probabilities(logits.size());
    double total = 0;
    for (size_t i = 0; i < logits.size(); i++) {
        const double p = std::exp((logits[i] - max_logit) / options.temperature);
        probabilities[i] = {p, static_cast<int32_t>(i)};
        total += p;
    }
    std::sort(probabilities.begin(), probabilities.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    size_t kept = 0;
    double mass = 0;
    while (kept < probabilities.size() && (kept == 0 || mass < options.top_p * total)) mass += probabilities[kept++].first;
    std::uniform_real_distribution<double> uniform(0.0, mass);
    double target = uniform(rng);
    for (size_t i = 0; i < kept; i++) {
        target -= probabilities[i].first;
        if (target <= 0) return probabilities[i].second;
    }
    return probabilities[kept - 1].second;
}

std::vector<Completion> generate_batch(const Llama& model, const std::vector<std::vector<int32_t>>& prompts,
                                       const std::vector<uint64_t>& seeds, const SamplingOptions& options) {
    const int64_t B = static_cast<int64_t>(prompts.size()), max_position = model.config.max_position;
    if (seeds.size() != prompts.size()) fail("generate: {} prompts but {} seeds", prompts.size(), seeds.size());
    std::vector<Completion> completions(static_cast<size_t>(B));
    if (B == 0 || options.max_new_tokens <= 0) return completions;
    int64_t capacity = 0;
    for (const std::vector<int32_t>& prompt : prompts) {
        const int64_t length = static_cast<int64_t>(prompt.size());
        if (length == 0) fail("generate: empty prompt");
        if (length > max_position)
            fail("generate: a prompt of {} tokens exceeds the model's max_position {}", length, max_position);
        capacity = std::max(capacity, std::min(max_position, length + options.max_new_tokens));
    }
    BatchKvCache cache = make_batch_kv_cache(model, B, capacity);
    std::vector<std::mt19937_64> rngs;
    for (uint64_t seed : seeds) rngs.emplace_back(seed);

    // The prefill feeds every prompt; each later step feeds each running sequence its last token.
    std::vector<int64_t> running(static_cast<size_t>(B));
    std::iota(running.begin(), running.end(), 0);
    std::vector<std::vector<int32_t>> inputs = prompts;
    while (!running.empty()) {
        const std::vector<std::vector<float>> logits = decode_step(model, cache, running, inputs);
        std::vector<int64_t> still_running;
        std::vector<std::vector<int32_t>> next_inputs;
        for (size_t i = 0; i < running.size(); i++) {
            const int64_t sequence = running[i];
            Completion& completion = completions[sequence];
            const int32_t next = sample_token(logits[i], options, rngs[sequence]);
            completion.tokens.push_back(next);
            // llama2.c's stories end with BOS; EOS ends other models' text.
            completion.stopped = options.stop_at_bos_or_eos &&
                                 std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end();
            const bool full = static_cast<int64_t>(completion.tokens.size()) == options.max_new_tokens ||
                              cache.lengths[sequence] == max_position;
            if (completion.stopped || full) continue;
            still_running.push_back(sequence);
            next_inputs.push_back({next});
        }
        running = std::move(still_running);
        inputs = std::move(next_inputs);
    }
    return completions;
}

std::vector<int32_t> generate(const Llama& model, const std::vector<int32_t>& prompt, const SamplingOptions& options) {
    if (prompt.empty()) fail("generate: empty prompt");
    Completion completion = generate_batch(model, {prompt}, {options.seed}, options)[0];
    if (completion.stopped) completion.tokens.pop_back();
    return completion.tokens;
}

}  // namespace ringlm
