// Hugging Face folders, export and import. See hf_model.h.
#include "model/hf_model.h"

#include "data/tokenizer.h"
#include "model/safetensors.h"
#include "util/atomic_file.h"
#include "util/error.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <vector>

namespace ringlm {

namespace {

namespace fs = std::filesystem;

// --- the tables both directions use -------------------------------------------------------

// The model_type values ringlm reads, what each implies, and how export names it back.
// qwen2 always has q/k/v biases (Qwen2Attention hard-codes bias=True, config.json has no key);
// qwen3 always has the per-head q/k norms.
struct HfFamily {
    const char* model_type;
    const char* architecture;
    bool qkv_bias, qk_norm;
    // keys of this family's config class that ringlm's model fixes (written on export,
    // checked on import, see hf_fixed_keys for the shared ones)
    std::vector<std::pair<std::string, nlohmann::json>> fixed_keys;
};
const std::vector<HfFamily> hf_families{
    {"llama", "LlamaForCausalLM", false, false, {{"attention_bias", false}, {"mlp_bias", false}}},
    {"mistral", "MistralForCausalLM", false, false, {{"attention_bias", false}, {"sliding_window", nullptr}}},
    {"qwen2", "Qwen2ForCausalLM", true, false, {{"use_sliding_window", false}}},
    {"qwen3", "Qwen3ForCausalLM", false, true, {{"attention_bias", false}, {"use_sliding_window", false}}},
};

const HfFamily* find_family(const std::string& model_type) {
    for (const HfFamily& family : hf_families)
        if (model_type == family.model_type) return &family;
    return nullptr;
}

// The family export writes for a model: the one with its extras, plain Llama otherwise.
const HfFamily& family_of(const ModelConfig& c) {
    for (const HfFamily& family : hf_families)
        if (family.qkv_bias == c.qkv_bias && family.qk_norm == c.qk_norm) return family;
    fail("hf export: no Hugging Face model_type has q/k/v biases {} and q/k norms {}", c.qkv_bias, c.qk_norm);
}

// config.json keys that carry a ModelConfig field (exactly one member pointer set).
struct HfConfigKey {
    const char* key;
    int64_t ModelConfig::*integer = nullptr;
    double ModelConfig::*number = nullptr;
    bool ModelConfig::*flag = nullptr;
    bool required = true;  // false: LlamaConfig has a default (read_hf_config)
};
const std::vector<HfConfigKey> hf_config_keys{
    {.key = "hidden_size", .integer = &ModelConfig::dim},
    {.key = "intermediate_size", .integer = &ModelConfig::ffn_dim},
    {.key = "num_hidden_layers", .integer = &ModelConfig::n_layers},
    {.key = "num_attention_heads", .integer = &ModelConfig::n_heads},
    {.key = "num_key_value_heads", .integer = &ModelConfig::n_kv_heads, .required = false},
    {.key = "max_position_embeddings", .integer = &ModelConfig::max_position, .required = false},
    {.key = "rms_norm_eps", .number = &ModelConfig::norm_eps, .required = false},
    {.key = "rope_theta", .number = &ModelConfig::rope_theta, .required = false},
    {.key = "vocab_size", .integer = &ModelConfig::vocab_size},
    {.key = "tie_word_embeddings", .flag = &ModelConfig::tied_embeddings, .required = false},
};

// Keys whose value ringlm's architecture fixes: written as is, and on import either absent or
// equal (anything else is a model ringlm would compute differently).
const std::vector<std::pair<std::string, nlohmann::json>> hf_fixed_keys{
    {"hidden_act", "silu"},
    {"attention_dropout", 0.0},
};

// Why a fixed key's other value is not ringlm's model, for the refusal.
const char* fixed_key_reason(const std::string& key) {
    if (key == "hidden_act") return "ringlm's MLP is SwiGLU (silu)";
    if (key == "attention_dropout") return "ringlm has no dropout";
    if (key == "sliding_window" || key == "use_sliding_window")
        return "ringlm's attention is full causal (no sliding-window layers)";
    if (key == "attention_bias")
        return "ringlm's projections have no bias in this family (only qwen2's q/k/v biases are supported)";
    return "ringlm's projections have no bias";
}

const char* const safetensors_file = "model.safetensors";
const char* const safetensors_index_file = "model.safetensors.index.json";

// --- import ---------------------------------------------------------------------------------

nlohmann::json read_json_file(const std::string& path, const char* what) {
    std::ifstream in(path);
    if (!in) fail("{}: cannot open {} ({})", path, what, fs::exists(path) ? "unreadable" : "missing");
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range for 1e999
        fail("{}: not JSON: {}", path, error.what());
    }
}

// --- rope_scaling: transformers' keys per rope_type, the RopeScaling fields they fill ------

struct RopeKey {
    const char* key;
    double RopeScaling::*number = nullptr;
    int64_t RopeScaling::*integer = nullptr;
};
const std::vector<RopeKey> rope_keys{
    {"factor", &RopeScaling::factor},
    {"low_freq_factor", &RopeScaling::low_freq_factor},
    {"high_freq_factor", &RopeScaling::high_freq_factor},
    {"original_max_position_embeddings", nullptr, &RopeScaling::original_max_position},
    {"beta_fast", &RopeScaling::beta_fast},
    {"beta_slow", &RopeScaling::beta_slow},
    {"attention_factor", &RopeScaling::attention_factor},
};
// Which keys each rope_type reads: required ones, then optional ones.
struct RopeType {
    const char* type;
    std::vector<std::string> required, optional;
};
const std::vector<RopeType> rope_types{
    {"linear", {"factor"}, {}},
    {"llama3", {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}, {}},
    {"yarn", {"factor"}, {"original_max_position_embeddings", "beta_fast", "beta_slow", "attention_factor"}},
};

// config.json's rope_scaling (or transformers 5's rope_parameters, which also holds rope_theta):
// null or rope_type "default" is no scaling; keys of no supported rule are refused by name.
RopeScaling read_rope_scaling(const nlohmann::json& value, const std::string& path, const char* where) {
    RopeScaling scaling;
    if (value.is_null()) return scaling;
    if (!value.is_object()) fail("{}: {} is {}, not an object or null", path, where, value.dump());
    const nlohmann::json type =
        value.contains("rope_type") ? value["rope_type"] : value.value("type", nlohmann::json());
    if (type == "default" || (type.is_null() && value.size() <= 1)) return scaling;
    const auto rule =
        std::find_if(rope_types.begin(), rope_types.end(), [&](const RopeType& r) { return type == r.type; });
    if (rule == rope_types.end())
        fail("{}: {} rope_type {} is not supported: ringlm implements default, linear, llama3 and yarn", path, where,
             type.dump());
    scaling.type = rule->type;
    for (const auto& [key, entry] : value.items()) {
        if (key == "rope_type" || key == "type" || key == "rope_theta" || entry.is_null()) continue;
        const bool known = std::count(rule->required.begin(), rule->required.end(), key) +
                           std::count(rule->optional.begin(), rule->optional.end(), key);
        if (!known) fail("{}: {}.{} {} is not supported with rope_type {}", path, where, key, entry.dump(), rule->type);
        if (!entry.is_number() || !(entry.get<double>() > 0))
            fail("{}: {}.{} is {}, not a positive number", path, where, key, entry.dump());
        for (const RopeKey& k : rope_keys) {
            if (key != k.key) continue;
            if (k.number) scaling.*k.number = entry.get<double>();
            if (k.integer) {
                if (!entry.is_number_integer()) fail("{}: {}.{} is {}, not an integer", path, where, key, entry.dump());
                scaling.*k.integer = entry.get<int64_t>();
            }
        }
    }
    for (const std::string& key : rule->required)
        if (!value.contains(key) || value[key].is_null())
            fail("{}: {}.{} is missing (rope_type {} needs it)", path, where, key, rule->type);
    if (scaling.type == "llama3" && !(scaling.high_freq_factor > scaling.low_freq_factor))
        fail("{}: {}.high_freq_factor {} must exceed low_freq_factor {}", path, where, scaling.high_freq_factor,
             scaling.low_freq_factor);
    return scaling;
}

// rope_scaling as transformers writes it: null, or the rule's required keys and the optional
// ones that differ from their default.
nlohmann::ordered_json rope_scaling_json(const RopeScaling& scaling) {
    if (scaling.type == "default") return nullptr;
    nlohmann::ordered_json json{{"rope_type", scaling.type}};
    const RopeType& rule = *std::find_if(rope_types.begin(), rope_types.end(),
                                         [&](const RopeType& r) { return scaling.type == r.type; });
    const RopeScaling defaults;
    for (const RopeKey& k : rope_keys) {
        const bool required = std::count(rule.required.begin(), rule.required.end(), k.key) > 0;
        const bool optional = std::count(rule.optional.begin(), rule.optional.end(), k.key) > 0;
        if (k.number && (required || (optional && scaling.*k.number != defaults.*k.number)))
            json[k.key] = scaling.*k.number;
        if (k.integer && (required || (optional && scaling.*k.integer != defaults.*k.integer)))
            json[k.key] = scaling.*k.integer;
    }
    return json;
}

// The weights of a folder: the safetensors files, and which file holds each tensor.
struct HfWeights {
    std::vector<SafetensorsFile> files;
    std::map<std::string, std::pair<const SafetensorsFile*, const SafetensorsTensor*>> tensors;
    std::string where;  // "model.safetensors" or "the shards of model.safetensors.index.json", for messages
};

HfWeights open_hf_weights(const std::string& folder) {
    HfWeights weights;
    const fs::path single = fs::path(folder) / safetensors_file, index = fs::path(folder) / safetensors_index_file;
    std::vector<std::string> shard_names;
    std::map<std::string, std::string> weight_map;
    if (fs::exists(single)) {  // transformers prefers the single file too
        shard_names.push_back(safetensors_file);
        weights.where = single.string();
    } else if (fs::exists(index)) {
        const nlohmann::json index_json = read_json_file(index.string(), "the shard index");
        if (!index_json.contains("weight_map") || !index_json["weight_map"].is_object())
            fail("{}: no weight_map object (tensor name -> shard file)", index.string());
        for (const auto& [name, shard] : index_json["weight_map"].items()) {
            if (!shard.is_string()) fail("{}: weight_map['{}'] is {}, not a file name", index.string(), name, shard.dump());
            const std::string file = shard.get<std::string>();
            if (file.empty() || fs::path(file).has_parent_path())
                fail("{}: weight_map['{}'] = '{}' is not a file name in the folder", index.string(), name, file);
            weight_map[name] = file;
            if (std::find(shard_names.begin(), shard_names.end(), file) == shard_names.end()) shard_names.push_back(file);
        }
        weights.where = "the shards of " + index.string();
    } else {
        fail("{}: no {} or {} (pytorch_model.bin is not read: save the model with safe_serialization=True)", folder,
             safetensors_file, safetensors_index_file);
    }
    // Every header checked before any value is read; the vector is sized first so the
    // pointers into it stay valid.
    weights.files.reserve(shard_names.size());
    for (const std::string& name : shard_names) {
        const fs::path path = fs::path(folder) / name;
        if (!fs::is_regular_file(path))
            fail("{}: missing (named by {})", path.string(), weights.where);
        weights.files.emplace_back(path.string());
    }
    for (const SafetensorsFile& file : weights.files)
        for (const SafetensorsTensor& tensor : file.tensors()) {
            auto [at, inserted] = weights.tensors.try_emplace(tensor.name, &file, &tensor);
            if (!inserted)
                fail("{}: tensor '{}' is also in {}", file.path(), tensor.name, at->second.first->path());
        }
    for (const auto& [name, file] : weight_map) {
        auto at = weights.tensors.find(name);
        if (at == weights.tensors.end() || fs::path(at->second.first->path()).filename() != file)
            fail("{}: weight_map puts '{}' in {}, which does not hold it", index.string(), name, file);
    }
    return weights;
}

// A tensor that is not a parameter but that transformers drops as well.
bool ignorable_tensor(const std::string& name, const ModelConfig& config) {
    return name.ends_with(".rotary_emb.inv_freq") || (config.tied_embeddings && name == "lm_head.weight");
}

}  // namespace

// --- the shared tables as functions ------------------------------------------------------

std::string hf_tensor_name(const std::string& name) {
    if (name == "tok_embeddings") return "model.embed_tokens.weight";
    if (name == "norm") return "model.norm.weight";
    if (name == "output") return "lm_head.weight";
    // "layers.{i}.{rest}"
    const size_t dot = name.find('.', 7);
    if (name.starts_with("layers.") && dot != std::string::npos)
        for (const LayerParameterRow& row : layer_parameter_table())  // model/llama.h
            if (name.compare(dot + 1, std::string::npos, row.name) == 0)
                return "model." + name.substr(0, dot + 1) + row.hf_name;
    fail("hf export: no Hugging Face name for parameter '{}'", name);
}

std::string hf_config_json(const ModelConfig& c, DType dtype) {
    // Every key the family's config class reads for this architecture; no RoPE scaling.
    const HfFamily& family = family_of(c);
    nlohmann::ordered_json config{
        {"architectures", nlohmann::ordered_json::array({family.architecture})},
        {"model_type", family.model_type},
    };
    for (const HfConfigKey& key : hf_config_keys) {
        if (key.integer) config[key.key] = c.*key.integer;
        if (key.number) config[key.key] = c.*key.number;
        if (key.flag) config[key.key] = c.*key.flag;
    }
    config["head_dim"] = c.head_dim();
    for (const auto& [key, value] : hf_fixed_keys) config[key] = value;
    for (const auto& [key, value] : family.fixed_keys) config[key] = value;
    config["rope_scaling"] = rope_scaling_json(c.rope_scaling);
    config["torch_dtype"] = dtype == DType::bf16 ? "bfloat16" : "float32";
    // ringlm's tokenizers (llama2.c files and "bytes") all use these ids (data/tokenizer.h)
    config["bos_token_id"] = bos_id;
    config["eos_token_id"] = eos_id;
    config["use_cache"] = true;
    return config.dump(2) + "\n";
}

ModelConfig read_hf_config(const std::string& folder) {
    const std::string path = (fs::path(folder) / "config.json").string();
    if (!fs::is_regular_file(path))
        fail("{}: missing; base_model as a folder is a Hugging Face model (config.json + model.safetensors), as "
             "save_pretrained writes it",
             path);
    const nlohmann::json json = read_json_file(path, "the model config");
    if (!json.is_object()) fail("{}: not a JSON object", path);

    const std::string model_type = json.value("model_type", std::string("(absent)"));
    const HfFamily* family = find_family(model_type);
    if (!family)
        fail("{}: model_type '{}' is not supported: ringlm loads model_type llama, mistral (without "
             "sliding_window), qwen2 and qwen3 (dense, without use_sliding_window)",
             path, model_type);
    // transformers 5 moves rope_theta and the scaling into one map, "rope_parameters".
    const nlohmann::json rope_parameters = json.value("rope_parameters", nlohmann::json());
    for (const auto* keys : {&hf_fixed_keys, &family->fixed_keys})
        for (const auto& [key, expected] : *keys) {
            if (!json.contains(key) || json[key] == expected) continue;
            fail("{}: {} {} is not supported: {}", path, key, json[key].dump(), fixed_key_reason(key));
        }
    // Keys of other families' features: refused rather than ignored, in one line.
    for (const char* key : {"mlp_bias", "num_experts", "num_local_experts", "layer_types"})
        if (json.contains(key) && !json[key].is_null() && json[key] != false && json[key] != 0 &&
            !(std::string(key) == "layer_types" && json[key].is_array() &&
              std::all_of(json[key].begin(), json[key].end(), [](const auto& t) { return t == "full_attention"; })))
            fail("{}: {} {} is not supported: ringlm's models are dense, full attention, bias-free MLPs", path, key,
                 json[key].dump());

    // LlamaConfig's defaults for what it lets config.json omit.
    ModelConfig config;
    config.qkv_bias = family->qkv_bias;
    config.qk_norm = family->qk_norm;
    config.norm_eps = 1e-6;
    config.rope_theta = 10000.0;
    config.max_position = 2048;
    config.tied_embeddings = false;
    for (const HfConfigKey& key : hf_config_keys) {
        if (!json.contains(key.key) || json[key.key].is_null()) {
            if (key.required) fail("{}: {} is missing", path, key.key);
            if (key.integer == &ModelConfig::n_kv_heads) config.n_kv_heads = config.n_heads;  // no GQA
            continue;
        }
        const nlohmann::json& value = json[key.key];
        if (key.integer) {
            if (!value.is_number_integer() || value.get<int64_t>() < 1)
                fail("{}: {} is {}, not a positive integer", path, key.key, value.dump());
            config.*key.integer = value.get<int64_t>();
        } else if (key.number) {
            if (!value.is_number() || !(value.get<double>() > 0))
                fail("{}: {} is {}, not a positive number", path, key.key, value.dump());
            config.*key.number = value.get<double>();
        } else {
            if (!value.is_boolean()) fail("{}: {} is {}, not true or false", path, key.key, value.dump());
            config.*key.flag = value.get<bool>();
        }
    }
    if (!json.contains("rope_theta") && rope_parameters.is_object() && rope_parameters.contains("rope_theta")) {
        if (!rope_parameters["rope_theta"].is_number() || !(rope_parameters["rope_theta"].get<double>() > 0))
            fail("{}: rope_parameters.rope_theta is {}, not a positive number", path,
                 rope_parameters["rope_theta"].dump());
        config.rope_theta = rope_parameters["rope_theta"].get<double>();
    }
    const RopeScaling from_parameters = read_rope_scaling(rope_parameters, path, "rope_parameters");
    config.rope_scaling = read_rope_scaling(json.value("rope_scaling", nlohmann::json()), path, "rope_scaling");
    if (config.rope_scaling.type == "default") config.rope_scaling = from_parameters;
    // head_dim: explicit (Qwen3's 128 with hidden 2560 and 32 heads), else hidden / heads
    if (json.contains("head_dim") && !json["head_dim"].is_null()) {
        const nlohmann::json& value = json["head_dim"];
        if (!value.is_number_integer() || value.get<int64_t>() < 2)
            fail("{}: head_dim is {}, not an integer of 2 or more", path, value.dump());
        if (value.get<int64_t>() != config.dim / config.n_heads || config.dim % config.n_heads != 0)
            config.head_size = value.get<int64_t>();
    }
    if (!config.heads_fit())
        fail("{}: hidden_size {} / num_attention_heads {} / num_key_value_heads {} / head_dim {} do not give an even "
             "head size shared by the KV groups",
             path, config.dim, config.n_heads, config.n_kv_heads, json.value("head_dim", nlohmann::json()).dump());
    return config;
}

HfExportSummary save_hf_model(const std::string& folder, const Llama& model, DType dtype) {
    if (dtype != DType::f32 && dtype != DType::bf16) fail("hf export: dtype {} (f32 or bf16)", dtype_name(dtype));
    if (model.parameters.device() != Device::cpu) fail("hf export {}: the model must be on the host", folder);
    HfExportSummary summary;
    summary.safetensors_path = (fs::path(folder) / safetensors_file).string();
    summary.config_path = (fs::path(folder) / "config.json").string();

    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const NamedParameter& p : model.named) tensors.emplace_back(hf_tensor_name(p.name), p.value);
    summary.safetensors_bytes = write_safetensors(summary.safetensors_path, tensors, dtype);
    summary.tensors = int64_t(tensors.size());

    AtomicFile config_file(summary.config_path);
    const std::string config_text = hf_config_json(model.config, dtype);
    config_file.write(config_text.data(), config_text.size());
    config_file.commit();
    return summary;
}

Llama load_hf_model(const std::string& folder, Device device, ModelUse use) {
    const ModelConfig config = read_hf_config(folder);
    const HfWeights weights = open_hf_weights(folder);

    // Every expected tensor present with its shape and a float dtype, nothing unexplained
    // besides, before the model is allocated.
    const std::vector<ParameterSlot> slots = llama_parameter_slots(config);
    std::set<std::string> expected;
    for (const ParameterSlot& slot : slots) {
        const std::string name = hf_tensor_name(slot.name);
        expected.insert(name);
        auto at = weights.tensors.find(name);
        if (at == weights.tensors.end())
            fail("{}: tensor '{}' (ringlm's {}) is missing from {}", folder, name, slot.name, weights.where);
        const auto& [file, tensor] = at->second;
        if (tensor->shape != slot.shape)
            fail("{}: tensor '{}' has shape {}; config.json's sizes need {}", file->path(), name, tensor->shape,
                 slot.shape);
        if (tensor->dtype != "F32" && tensor->dtype != "BF16" && tensor->dtype != "F16")
            fail("{}: tensor '{}' is {}; ringlm reads F32, BF16 and F16 weights", file->path(), name, tensor->dtype);
    }
    std::vector<std::string> ignored;
    for (const auto& [name, place] : weights.tensors) {
        if (expected.count(name)) continue;
        if (!ignorable_tensor(name, config))
            fail("{}: tensor '{}' is not part of a LlamaForCausalLM with this config.json{} (ringlm refuses weights it "
                 "would not use)",
                 place.first->path(), name, name == "lm_head.weight" ? " (tie_word_embeddings is true)" : "");
        ignored.push_back(name);
    }
    if (!ignored.empty())
        fmt::print("note: {}: ignoring {} tensor(s) transformers does not load either: {}{}\n", folder, ignored.size(),
                   ignored.front(), ignored.size() > 1 ? ", ..." : "");

    // One tensor at a time: widen straight into the host buffer, or through one host tensor to the GPU.
    Llama model = make_llama(config, device, use);
    for (const NamedParameter& p : model.named) {
        const auto& [file, tensor] = weights.tensors.at(hf_tensor_name(p.name));
        Tensor destination = p.value;
        Tensor host = device == Device::cpu ? destination : empty(p.value.shape(), DType::f32);
        file->read_f32(*tensor, host.data<float>());
        if (device != Device::cpu) backend(destination).copy(destination, host);
    }
    update_bf16_weights(model);
    return model;
}

}  // namespace ringlm
