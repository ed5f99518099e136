#include "model/generate.h"

#include "data/batch.h"
#include "ops/ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace ringlm {

KvCache make_kv_cache(const Llama& model, int64_t capacity) {
    const ModelConfig& c = model.config;
    KvCache cache;
    cache.capacity = capacity;
    const Device device = model.parameters.device();
    for (int64_t i = 0; i < c.n_layers; i++) {
        cache.k.push_back(zeros({capacity, c.n_kv_heads, c.head_dim()}, DType::f32, device));
        cache.v.push_back(zeros({capacity, c.n_kv_heads, c.head_dim()}, DType::f32, device));
    }
    return cache;
}

namespace {

Tensor host_i32(const std::vector<int32_t>& values) { return from_vector<int32_t>(values, {static_cast<int64_t>(values.size())}); }

}  // namespace

std::vector<float> decode_step(const Llama& model, KvCache& cache, const std::vector<int32_t>& tokens) {
    const ModelConfig& c = model.config;
    const int64_t n = static_cast<int64_t>(tokens.size()), start = cache.length, end = start + n, D = c.head_dim();
    if (n == 0) fail("generate: no tokens to decode");
    if (end > cache.capacity)
        fail("generate: {} tokens exceed the KV cache of {} (the model's max_position is {})", end, cache.capacity,
             c.max_position);
    const Device device = model.parameters.device();
    std::vector<int32_t> positions(n), key_positions(end), query_segments(n, 0), key_segments(end, 0);
    std::iota(positions.begin(), positions.end(), static_cast<int32_t>(start));
    std::iota(key_positions.begin(), key_positions.end(), 0);
    Tensor ids = to_device(host_i32(tokens), device), position_ids = to_device(host_i32(positions), device);
    AttentionMask mask{position_ids, to_device(host_i32(query_segments), device),
                       to_device(host_i32(key_positions), device), to_device(host_i32(key_segments), device), true};

    Tape tape(Tape::Mode::inference);
    Tensor x = embedding(tape, model.tok_embeddings, ids);
    for (int64_t l = 0; l < c.n_layers; l++) {
        const LlamaLayer& layer = model.layers[l];
        Tensor xn = rmsnorm(tape, x, layer.attention_norm, c.norm_eps);
        Tensor q = rope(tape, linear(tape, xn, layer.wq).view({n, c.n_heads, D}), position_ids, c.rope_theta);
        Tensor k = rope(tape, linear(tape, xn, layer.wk).view({n, c.n_kv_heads, D}), position_ids, c.rope_theta);
        Tensor v = linear(tape, xn, layer.wv).view({n, c.n_kv_heads, D});
        Tensor k_slot = cache.k[l].rows(start, end), v_slot = cache.v[l].rows(start, end);
        backend(k).copy(k_slot, k);
        backend(v).copy(v_slot, v);
        Tensor attended = attention(tape, q, cache.k[l].rows(0, end), cache.v[l].rows(0, end), mask,
                                    1.0 / std::sqrt(static_cast<double>(D)));
        Tensor h = add(tape, x, linear(tape, attended.view({n, c.n_heads * D}), layer.wo));
        Tensor hn = rmsnorm(tape, h, layer.ffn_norm, c.norm_eps);
        x = add(tape, h, linear(tape, swiglu(tape, linear(tape, hn, layer.w1), linear(tape, hn, layer.w3)), layer.w2));
    }
    cache.length = end;
    Tensor last = rmsnorm(tape, x.rows(n - 1, n), model.norm, c.norm_eps);
    Tensor logits = linear(tape, last, model.output);
    Tensor host = empty({c.vocab_size}, DType::f32);
    backend(logits).copy(host, logits);  // the backend of a device tensor copies to the host
    return to_vector<float>(host);
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

std::vector<int32_t> generate(const Llama& model, const std::vector<int32_t>& prompt, const SamplingOptions& options) {
    if (prompt.empty()) fail("generate: empty prompt");
    const int64_t capacity = std::min<int64_t>(model.config.max_position,
                                               static_cast<int64_t>(prompt.size()) + options.max_new_tokens);
    KvCache cache = make_kv_cache(model, capacity);
    std::mt19937_64 rng(options.seed);
    std::vector<int32_t> generated;
    std::vector<float> logits = decode_step(model, cache, prompt);
    while (static_cast<int64_t>(generated.size()) < options.max_new_tokens) {
        const int32_t next = sample_token(logits, options, rng);
        if (options.stop_at_bos_or_eos && (next == 1 || next == 2)) break;
        generated.push_back(next);
        if (cache.length >= cache.capacity) break;
        logits = decode_step(model, cache, {next});
    }
    return generated;
}

}  // namespace ringlm
