// Autoregressive generation with a KV cache: each new token costs one token's worth of
// projections and one attention row against the cache, so generating N tokens is linear in
// N per layer (plus the attention itself), not quadratic in recomputation.
#pragma once

#include "model/llama.h"

#include <cstdint>
#include <random>
#include <vector>

namespace ringlm {

struct KvCache {
    std::vector<Tensor> k, v;  // per layer [capacity, n_kv_heads, head_dim]
    int64_t length = 0;        // tokens cached so far
    int64_t capacity = 0;
};

KvCache make_kv_cache(const Llama& model, int64_t capacity);

// Runs `tokens` (at positions cache.length ...) through the model, appending their keys and
// values to the cache; returns the logits of the last token, f32 [vocab_size] on the host.
std::vector<float> decode_step(const Llama& model, KvCache& cache, const std::vector<int32_t>& tokens);

struct SamplingOptions {
    int64_t max_new_tokens = 64;
    double temperature = 0.0;  // 0: greedy (argmax)
    double top_p = 1.0;        // nucleus: sample among the smallest set of tokens with mass >= top_p
    uint64_t seed = 0;
    bool stop_at_bos_or_eos = true;  // llama2.c's stories end a story with BOS (1); EOS is 2
};

// Picks the next token from logits (greedy, or temperature + top-p with rng).
int32_t sample_token(const std::vector<float>& logits, const SamplingOptions& options, std::mt19937_64& rng);

// prompt (with BOS) -> the new tokens only.
std::vector<int32_t> generate(const Llama& model, const std::vector<int32_t>& prompt, const SamplingOptions& options);

}  // namespace ringlm
