// The shape of a Llama-family model, and the names of its parameters.
//
// Parameter names (every weight is [out, in], PyTorch's nn.Linear layout):
//   tok_embeddings                [vocab_size, dim]
//   layers.{i}.attention_norm     [dim]
//   layers.{i}.attention.wq       [n_heads * head_dim, dim]
//   layers.{i}.attention.wk       [n_kv_heads * head_dim, dim]
//   layers.{i}.attention.wv       [n_kv_heads * head_dim, dim]
//   layers.{i}.attention.wo       [dim, n_heads * head_dim]
//   layers.{i}.ffn_norm           [dim]
//   layers.{i}.feed_forward.w1    [ffn_dim, dim]   gate
//   layers.{i}.feed_forward.w2    [dim, ffn_dim]   down
//   layers.{i}.feed_forward.w3    [ffn_dim, dim]   up
//   norm                          [dim]
//   output                        [vocab_size, dim]   absent when tied_embeddings
// wq and wk are in the Hugging Face "rotate halves" RoPE layout (see Backend::rope_forward).
#pragma once

#include <cstdint>

namespace ringlm {

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

    bool operator==(const ModelConfig&) const = default;
    int64_t head_dim() const { return dim / n_heads; }
    int64_t kv_dim() const { return n_kv_heads * head_dim(); }
    // dim splits into n_heads heads of an even size (RoPE rotates pairs), shared by the KV
    // groups (n_kv_heads divides n_heads). Every loader checks it, naming its own file's keys.
    bool heads_fit() const {
        return n_heads > 0 && n_kv_heads > 0 && dim % n_heads == 0 && n_heads % n_kv_heads == 0 && head_dim() % 2 == 0;
    }
};

}  // namespace ringlm
