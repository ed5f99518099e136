// Import of llama2.c "legacy" checkpoints (e.g. data/stories260K/stories260K.bin; format in
// data/README.md) as a ModelConfig and host f32 parameters named as in model_config.h.
// wq and wk are permuted from llama2.c's interleaved RoPE pairs to the rotate-halves layout.
#pragma once

#include "model/model_config.h"
#include "tensor/tensor.h"

#include <string>
#include <utility>
#include <vector>

namespace ringlm {

struct Llama2cCheckpoint {
    ModelConfig config;
    // In model_config.h's order: tok_embeddings, then per layer attention_norm, wq, wk, wv,
    // wo, ffn_norm, w1, w2, w3, then norm, and output when the classifier is not tied.
    std::vector<std::pair<std::string, Tensor>> parameters;
};

// Throws ringlm::Error naming the file for a bad header or a size that differs from the
// header's by even one byte.
Llama2cCheckpoint load_llama2c_checkpoint(const std::string& path);

}  // namespace ringlm
