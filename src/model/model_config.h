// The shape of a Llama-family model, and the names of its parameters.
//
// Parameter names (every weight is [out, in], PyTorch's nn.Linear layout):
//   tok_embeddings                [vocab_size, dim]
//   layers.{i}.attention_norm     [dim]
//   layers.{i}.attention.wq       [n_heads * head_dim, dim]
//   layers.{i}.attention.wk       [n_kv_heads * head_dim, dim]
//   layers.{i}.attention.wv       [n_kv_heads * head_dim, dim]
//   layers.{i}.attention.wo       [dim, n_heads * head_dim]
//   layers.{i}.attention.bq       [n_heads * head_dim]      qkv_bias only (Qwen2)
//   layers.{i}.attention.bk       [n_kv_heads * head_dim]   qkv_bias only
//   layers.{i}.attention.bv       [n_kv_heads * head_dim]   qkv_bias only
//   layers.{i}.attention.q_norm   [head_dim]                qk_norm only (Qwen3)
//   layers.{i}.attention.k_norm   [head_dim]                qk_norm only
//   layers.{i}.ffn_norm           [dim]
//   layers.{i}.feed_forward.w1    [ffn_dim, dim]   gate
//   layers.{i}.feed_forward.w2    [dim, ffn_dim]   down
//   layers.{i}.feed_forward.w3    [ffn_dim, dim]   up
//   norm                          [dim]
//   output                        [vocab_size, dim]   absent when tied_embeddings
// wq and wk are in the Hugging Face "rotate halves" RoPE layout (see Backend::rope_forward).
#pragma once

#include <cstdint>
#include <string>

namespace ringlm {

// RoPE scaling, as config.json's rope_scaling (transformers' rope_type); model/rope_scaling.h
// turns it into the inverse-frequency table the RoPE kernels read.
struct RopeScaling {
    std::string type = "default";  // default | linear | llama3 | yarn
    double factor = 1.0;
    double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
    int64_t original_max_position = 0;                     // llama3; yarn (0: max_position)
    double beta_fast = 32.0, beta_slow = 1.0;              // yarn
    double attention_factor = 0.0;                         // yarn; 0: 0.1 ln(factor) + 1

    bool operator==(const RopeScaling&) const = default;
};

struct ModelConfig {
    int64_t dim = 64;
    int64_t n_layers = 2;
    int64_t n_heads = 4;
    int64_t n_kv_heads = 4;
    int64_t ffn_dim = 172;
    int64_t vocab_size = 512;
    int64_t max_position = 512;
    double rope_theta = 10000.0;
    double norm_eps = 1e-5;
    bool tied_embeddings = true;
    int64_t head_size = 0;  // an explicit head_dim (Qwen3: not dim / n_heads); 0: dim / n_heads
    bool qkv_bias = false;  // the q, k, v projections have a bias (Qwen2)
    bool qk_norm = false;   // per-head RMSNorm of q and k before RoPE (Qwen3)
    RopeScaling rope_scaling;

    bool operator==(const ModelConfig&) const = default;
    int64_t head_dim() const { return head_size > 0 ? head_size : dim / n_heads; }
    int64_t q_dim() const { return n_heads * head_dim(); }
    int64_t kv_dim() const { return n_kv_heads * head_dim(); }
    // n_heads heads of an even size (RoPE rotates pairs; dim / n_heads unless head_size is
    // explicit), shared by the KV groups (n_kv_heads divides n_heads). Every loader checks it,
    // naming its own file's keys.
    bool heads_fit() const {
        return n_heads > 0 && n_kv_heads > 0 && head_size >= 0 && (head_size > 0 || dim % n_heads == 0) &&
               n_heads % n_kv_heads == 0 && head_dim() % 2 == 0;
    }
};

}  // namespace ringlm
