// Import of llama2.c "legacy" (v0) checkpoints (e.g. data/stories260K/stories260K.bin; format in
// data/README.md) as a ModelConfig and host f32 parameters named as in model_config.h, and
// export of a model back to that format. wq and wk are permuted from llama2.c's interleaved
// RoPE pairs to the rotate-halves layout on import, and back on export.
#pragma once

#include "model/llama.h"
#include "model/model_config.h"
#include "tensor/tensor.h"

#include <cstdio>
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
// The same from an open stream positioned at the start of the checkpoint, `bytes` long
// (`path` names it in messages).
Llama2cCheckpoint read_llama2c_checkpoint(std::FILE* file, int64_t bytes, const std::string& path);

// Writes a host model as a legacy checkpoint that load_llama2c_checkpoint reads back with
// bit-identical weights (and llama2.c's run.c runs), through a temporary file and a rename.
// Refuses a model whose rope_theta or norm_eps is not llama2.c's fixed 10000 / 1e-5. Returns
// the bytes written.
int64_t save_llama2c_checkpoint(const std::string& path, const Llama& model);

}  // namespace ringlm
