// Export of a model as Hugging Face transformers loads a LlamaForCausalLM (and vLLM and
// llama.cpp's convert_hf_to_gguf.py read it): a folder with
//   model.safetensors   the weights under Hugging Face's names (hf_tensor_name), f32 or bf16
//   config.json         LlamaConfig: sizes, rms_norm_eps, rope_theta, tie_word_embeddings, ...
// No conversion of values is needed beyond the dtype: ringlm's weights are already [out, in]
// (nn.Linear's layout) and wq, wk already in the rotate-halves RoPE layout Hugging Face uses.
// The tokenizer is not part of it: ringlm uses llama2.c tokenizer files, which transformers
// cannot read (the export command copies the file next to the weights and says so).
#pragma once

#include "model/llama.h"

#include <string>

namespace ringlm {

// ringlm's parameter name (model_config.h) -> Hugging Face's:
//   tok_embeddings -> model.embed_tokens.weight, layers.3.attention.wq ->
//   model.layers.3.self_attn.q_proj.weight, feed_forward.w1/w3/w2 -> mlp.gate/up/down_proj, ...
std::string hf_tensor_name(const std::string& name);

// config.json's text for `model` with weights stored as `dtype` (f32 or bf16).
std::string hf_config_json(const ModelConfig& config, DType dtype);

struct HfExportSummary {
    int64_t tensors = 0;
    int64_t safetensors_bytes = 0;
    std::string safetensors_path, config_path;
};

// Writes folder/model.safetensors and folder/config.json (each through a temporary file and a
// rename) for a host model; `folder` must exist. dtype f32 (exact) or bf16 (round to nearest even).
HfExportSummary save_hf_model(const std::string& folder, const Llama& model, DType dtype);

}  // namespace ringlm
