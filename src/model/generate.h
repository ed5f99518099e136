// Autoregressive generation with a KV cache, batched: B sequences decode together, so every
// projection, MLP and LM-head GEMM multiplies a [B, dim] matrix instead of B matrix-vector
// products, while attention runs per sequence against its own cache. Generating N tokens is
// linear in N per layer (plus the attention itself), not quadratic in recomputation.
// `generate` (one prompt) is the batch of one: there is one decoder.
//
// Determinism: a sequence's tokens depend only on its prompt, its seed and the batch it is
// decoded in. The batch matters because a BLAS GEMM's row results can change with the number
// of rows and a row's position among them (measured with OpenBLAS 0.3.21: [M, 64] x [64, 64]
// gives other bits for M >= 19 than for M = 1, and the bits of a row move with its position),
// so the logits of one sequence decoded in different batches agree to rounding, not bitwise.
// A caller that needs the same tokens however the work is split fixes the batches
// (src/rl/rollout.cpp does).
#pragma once

#include "data/tokenizer.h"
#include "model/llama.h"

#include <cstdint>
#include <random>
#include <vector>

namespace ringlm {

// The KV caches of a batch of sequences: sequence b's keys and values are the rows
// [b * capacity, b * capacity + lengths[b]) of each layer's k and v.
struct BatchKvCache {
    std::vector<Tensor> k, v;      // per layer [sequences * capacity, n_kv_heads, head_dim]
    std::vector<int64_t> lengths;  // tokens cached so far, per sequence
    int64_t capacity = 0;          // tokens per sequence
    Tensor key_positions;          // i32 [capacity]: 0, 1, 2, ... (the attention mask's key index)
    Tensor zero_segments;          // i32 [capacity]: 0 (each sequence is one segment)
};

BatchKvCache make_batch_kv_cache(const Llama& model, int64_t sequences, int64_t capacity);

// One forward of the batch: new_tokens[i] (one or more) are the next tokens of sequence
// sequences[i], at positions cache.lengths[sequences[i]] ...; their keys and values are
// appended to that sequence's cache. All rows go through the GEMMs together; each sequence's
// queries attend to its own cache only. Returns the logits of each sequence's last new token,
// f32 [vocab_size] on the host, in the order of `sequences`.
// The mask of one sequence's n new queries, whose position ids `positions` are start,
// start + 1, ..., start + n - 1 (as decode_step makes them), against the first start + n keys
// of its cache: causal, one segment. It carries what the host knows of both sides, so a kernel
// that needs the mask's shape (cuDNN's dispatch, for a prefill) reads nothing back.
AttentionMask cache_attention_mask(const BatchKvCache& cache, const Tensor& positions, int64_t start);

std::vector<std::vector<float>> decode_step(const Llama& model, BatchKvCache& cache,
                                            const std::vector<int64_t>& sequences,
                                            const std::vector<std::vector<int32_t>>& new_tokens);

struct SamplingOptions {
    int64_t max_new_tokens = 64;
    double temperature = 0.0;  // 0: greedy (argmax)
    double top_p = 1.0;        // nucleus: sample among the smallest set of tokens with mass >= top_p
    uint64_t seed = 0;         // generate() only; generate_batch takes one seed per sequence
    bool stop_at_bos_or_eos = true;  // llama2.c's stories end a story with BOS (1); EOS is 2
    // The ids that stop a completion when stop_at_bos_or_eos: the tokenizer's stop_ids()
    // (a Hugging Face model's EOS ids; llama2.c's BOS and EOS by default).
    std::vector<int32_t> stop_ids = {bos_id, eos_id};
};

// Picks the next token from logits (greedy, or temperature + top-p with rng).
int32_t sample_token(const std::vector<float>& logits, const SamplingOptions& options, std::mt19937_64& rng);

struct Completion {
    std::vector<int32_t> tokens;  // the new tokens, ending with the stop token if one came
    bool stopped = false;         // ended with BOS/EOS (not cut at max_new_tokens or max_position)
};

// One completion of each prompt (each with BOS), sampled as one batch: a prefill forward of
// all prompts, then one forward per new token of the sequences still running (a sequence
// that stops leaves the batch). Sequence i samples with its own rng seeded seeds[i]. A
// completion ends with its first BOS/EOS (kept, stopped = true) when
// options.stop_at_bos_or_eos, after max_new_tokens, or when it reaches the model's max_position.
std::vector<Completion> generate_batch(const Llama& model, const std::vector<std::vector<int32_t>>& prompts,
                                       const std::vector<uint64_t>& seeds, const SamplingOptions& options);

// prompt (with BOS) -> the new tokens only, without the stop token (rng seeded options.seed).
std::vector<int32_t> generate(const Llama& model, const std::vector<int32_t>& prompt, const SamplingOptions& options);

}  // namespace ringlm
