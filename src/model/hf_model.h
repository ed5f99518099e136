// Hugging Face *ForCausalLM folders of the Llama-like families (llama incl. Llama 3.x RoPE
// scaling, mistral, qwen2, qwen3), both ways: what transformers' save_pretrained writes and
// from_pretrained reads (vLLM and llama.cpp's convert_hf_to_gguf.py read it too):
//   config.json                         the family's config: sizes, rms_norm_eps, rope_theta, rope_scaling, ...
//   model.safetensors                   the weights under Hugging Face's names (hf_tensor_name)
//   or model-0000i-of-0000n.safetensors the weights in shards, with
//      model.safetensors.index.json     {"weight_map": {tensor name: shard file}}
// No conversion of values is needed beyond the dtype: ringlm's weights are already [out, in]
// (nn.Linear's layout) and wq, wk already in the rotate-halves RoPE layout Hugging Face uses.
// One name table, one family table and one config.json key table (hf_model.cpp) serve export
// and import. qwen2 adds q/k/v biases; qwen3 q/k norms and an explicit head_dim.
//
// Import reads F32, BF16 and F16 weights, widened to f32 exactly. It refuses, before
// allocating the model and naming the file and key or tensor: a config ringlm would compute
// differently (another model_type; sliding windows; hidden_act other than silu; biases other
// than qwen2's; MoE keys; rope_scaling other than default, linear, llama3, yarn), a missing
// tensor, a tensor of the wrong shape or dtype, a tensor the family's model of that config
// does not have, and any malformed or truncated safetensors file. Two kinds of extra tensor
// are ignored (with a note), as transformers ignores them: `*.rotary_emb.inv_freq` (a buffer
// older transformers saved; ringlm computes the frequencies from rope_theta and rope_scaling)
// and `lm_head.weight` when tie_word_embeddings is true.
//
// The tokenizer is not part of it: ringlm uses llama2.c tokenizer files, which transformers
// cannot read and ringlm does not read tokenizer.json (README: which file to use).
#pragma once

#include "model/llama.h"

#include <string>

namespace ringlm {

// ringlm's parameter name (model_config.h) -> Hugging Face's:
//   tok_embeddings -> model.embed_tokens.weight, layers.3.attention.wq ->
//   model.layers.3.self_attn.q_proj.weight, attention.bq -> self_attn.q_proj.bias,
//   attention.q_norm -> self_attn.q_norm.weight, feed_forward.w1/w3/w2 -> mlp.gate/up/down_proj, ...
std::string hf_tensor_name(const std::string& name);

// config.json's text for `model` with weights stored as `dtype` (f32 or bf16).
std::string hf_config_json(const ModelConfig& config, DType dtype);

// The ModelConfig of folder/config.json (LlamaConfig's defaults for the keys it may omit:
// num_key_value_heads = num_attention_heads, rms_norm_eps 1e-6, rope_theta 10000,
// max_position_embeddings 2048, tie_word_embeddings false); refusals as above.
ModelConfig read_hf_config(const std::string& folder);

struct HfExportSummary {
    int64_t tensors = 0;
    int64_t safetensors_bytes = 0;
    std::string safetensors_path, config_path;
};

// Writes folder/model.safetensors and folder/config.json (each through a temporary file and a
// rename) for a host model; `folder` must exist. dtype f32 (exact) or bf16 (round to nearest even).
HfExportSummary save_hf_model(const std::string& folder, const Llama& model, DType dtype);

// The model of a Hugging Face folder on `device`. Checks config.json and every safetensors
// header first; then converts one tensor at a time from the mapped files straight into the
// model's parameter buffer (host) or through one tensor-sized host buffer (GPU), so a model
// is never held twice in f32. A gradient buffer only when `use` is training.
Llama load_hf_model(const std::string& folder, Device device = Device::cpu, ModelUse use = ModelUse::training);

}  // namespace ringlm
