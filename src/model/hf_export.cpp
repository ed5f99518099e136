// Hugging Face export. See hf_export.h.
#include "model/hf_export.h"

#include "data/tokenizer.h"
#include "util/atomic_file.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

namespace ringlm {

namespace {

// The per-layer names: ringlm's after "layers.{i}.", Hugging Face's after "model.layers.{i}.".
const std::vector<std::pair<std::string, std::string>> layer_tensor_names{
    {"attention_norm", "input_layernorm.weight"},
    {"attention.wq", "self_attn.q_proj.weight"},
    {"attention.wk", "self_attn.k_proj.weight"},
    {"attention.wv", "self_attn.v_proj.weight"},
    {"attention.wo", "self_attn.o_proj.weight"},
    {"ffn_norm", "post_attention_layernorm.weight"},
    {"feed_forward.w1", "mlp.gate_proj.weight"},
    {"feed_forward.w2", "mlp.down_proj.weight"},
    {"feed_forward.w3", "mlp.up_proj.weight"},
};

const char* safetensors_dtype(DType dtype) { return dtype == DType::bf16 ? "BF16" : "F32"; }

}  // namespace

std::string hf_tensor_name(const std::string& name) {
    if (name == "tok_embeddings") return "model.embed_tokens.weight";
    if (name == "norm") return "model.norm.weight";
    if (name == "output") return "lm_head.weight";
    // "layers.{i}.{rest}"
    const size_t dot = name.find('.', 7);
    if (name.starts_with("layers.") && dot != std::string::npos)
        for (const auto& [ours, theirs] : layer_tensor_names)
            if (name.compare(dot + 1, std::string::npos, ours) == 0)
                return "model." + name.substr(0, dot + 1) + theirs;
    fail("hf export: no Hugging Face name for parameter '{}'", name);
}

std::string hf_config_json(const ModelConfig& c, DType dtype) {
    // Every key LlamaConfig reads for this architecture; bias-free projections, no RoPE scaling.
    nlohmann::ordered_json config{
        {"architectures", nlohmann::ordered_json::array({"LlamaForCausalLM"})},
        {"model_type", "llama"},
        {"hidden_size", c.dim},
        {"intermediate_size", c.ffn_dim},
        {"num_hidden_layers", c.n_layers},
        {"num_attention_heads", c.n_heads},
        {"num_key_value_heads", c.n_kv_heads},
        {"head_dim", c.head_dim()},
        {"hidden_act", "silu"},
        {"max_position_embeddings", c.max_position},
        {"rms_norm_eps", c.norm_eps},
        {"rope_theta", c.rope_theta},
        {"rope_scaling", nullptr},
        {"attention_bias", false},
        {"attention_dropout", 0.0},
        {"mlp_bias", false},
        {"vocab_size", c.vocab_size},
        {"tie_word_embeddings", c.tied_embeddings},
        {"torch_dtype", dtype == DType::bf16 ? "bfloat16" : "float32"},
        // ringlm's tokenizers (llama2.c files and "bytes") all use these ids (data/tokenizer.h)
        {"bos_token_id", bos_id},
        {"eos_token_id", eos_id},
        {"use_cache", true},
    };
    return config.dump(2) + "\n";
}

// safetensors: u64 little-endian N, then N bytes of JSON header, then the tensors' bytes back
// to back. The header maps each name to {"dtype", "shape", "data_offsets": [begin, end)}
// (offsets from the end of the header) and "__metadata__" to string pairs; it is padded with
// spaces so the data starts 8-byte aligned.
HfExportSummary save_hf_model(const std::string& folder, const Llama& model, DType dtype) {
    if (dtype != DType::f32 && dtype != DType::bf16) fail("hf export: dtype {} (f32 or bf16)", dtype_name(dtype));
    if (model.parameters.device() != Device::cpu) fail("hf export {}: the model must be on the host", folder);
    HfExportSummary summary;
    summary.safetensors_path = (std::filesystem::path(folder) / "model.safetensors").string();
    summary.config_path = (std::filesystem::path(folder) / "config.json").string();

    // transformers refuses a safetensors file whose metadata format is not a framework's.
    nlohmann::ordered_json header{{"__metadata__", {{"format", "pt"}}}};
    int64_t offset = 0;
    for (const NamedParameter& p : model.named) {
        const int64_t bytes = p.value.numel() * int64_t(dtype_size(dtype));
        const Shape& shape = p.value.shape();
        header[hf_tensor_name(p.name)] = {{"dtype", safetensors_dtype(dtype)},
                                          {"shape", std::vector<int64_t>(shape.dims, shape.dims + shape.rank)},
                                          {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');
    const uint64_t header_bytes = header_text.size();  // x86-64 and aarch64 are little-endian

    AtomicFile file(summary.safetensors_path);
    file.write(&header_bytes, sizeof(header_bytes));
    file.write(header_text.data(), header_text.size());
    std::vector<bfloat16> rounded;
    for (const NamedParameter& p : model.named) {
        const float* values = p.value.data<float>();
        if (dtype == DType::f32) {
            file.write(values, p.value.bytes());
            continue;
        }
        rounded.resize(p.value.numel());
        for (int64_t i = 0; i < p.value.numel(); i++) rounded[i] = to_bfloat16(values[i]);
        file.write(rounded.data(), rounded.size() * sizeof(bfloat16));
    }
    file.commit();
    summary.tensors = int64_t(model.named.size());
    summary.safetensors_bytes = file.bytes_written();

    AtomicFile config_file(summary.config_path);
    const std::string config_text = hf_config_json(model.config, dtype);
    config_file.write(config_text.data(), config_text.size());
    config_file.commit();
    return summary;
}

}  // namespace ringlm
