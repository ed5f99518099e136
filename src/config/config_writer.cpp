// Config -> text: the one-line summary for logs and the effective config as YAML (every key,
// defaults filled) that the trainer saves next to checkpoints and parse_config reads back.
#include "config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>

namespace ringlm {

// A YAML double-quoted scalar: any path survives, and parse_config reads back the same text.
static std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') out += '\\', out += c;
        else if (byte < 0x20 || byte == 0x7f) out += fmt::format("\\x{:02x}", byte);
        else out += c;
    }
    return out + "\"";
}

// "" means unset for these keys; `~` (YAML null) reads back as unset.
static std::string optional_text(const std::string& text) { return text.empty() ? "~" : quoted(text); }

// fmt's "{}" is the shortest text that reads back to the same double.
static std::string number(double value) { return fmt::format("{}", value); }

static std::string boolean(bool value) { return value ? "true" : "false"; }

static void write_datasets(std::string& out, const char* key, const std::vector<DatasetEntry>& datasets) {
    if (datasets.empty()) {
        out += fmt::format("{}: []\n", key);
        return;
    }
    out += fmt::format("{}:\n", key);
    for (const DatasetEntry& dataset : datasets) {
        out += fmt::format("  - path: {}\n", quoted(dataset.path));
        const DatasetFormat& format = dataset.format;
        if (format.type == DatasetType::tokens) continue;
        out += fmt::format("    type: {}\n", name(format.type));
        if (format.type == DatasetType::completion) out += fmt::format("    field: {}\n", quoted(format.field));
        if (format.type != DatasetType::chat_template) continue;
        out += fmt::format("    field_messages: {}\n    field_system: {}\n", quoted(format.field_messages),
                           quoted(format.field_system));
        out += fmt::format("    message_property_mappings: {{role: {}, content: {}}}\n", quoted(format.role_property),
                           quoted(format.content_property));
        std::vector<std::string> roles;
        for (const std::string& role : format.roles_to_train) roles.push_back(quoted(role));
        out += fmt::format("    chat_template: {}\n    roles_to_train: [{}]\n    train_on_eos: {}\n",
                           name(format.chat_template), fmt::join(roles, ", "), name(format.train_on_eos));
    }
}

std::string to_yaml(const Config& config) {
    std::string out = "# ringlm effective config: every key, defaults filled in\n";

    const ModelSection& model = config.model;
    out += "\n# --- model\n";
    if (!model.base_model.empty()) out += fmt::format("base_model: {}\n", quoted(model.base_model));
    if (model.has_model_config) {
        const ModelConfig& shape = model.model_config;
        out += "model_config:\n";
        out += fmt::format("  dim: {}\n  n_layers: {}\n  n_heads: {}\n  n_kv_heads: {}\n", shape.dim, shape.n_layers,
                           shape.n_heads, shape.n_kv_heads);
        out += fmt::format("  ffn_dim: {}\n  vocab_size: {}\n  max_position: {}\n", shape.ffn_dim, shape.vocab_size,
                           shape.max_position);
        out += fmt::format("  rope_theta: {}\n  norm_eps: {}\n  tied_embeddings: {}\n", number(shape.rope_theta),
                           number(shape.norm_eps), boolean(shape.tied_embeddings));
    }
    out += fmt::format("tokenizer: {}\n", optional_text(model.tokenizer));

    const DataSection& data = config.data;
    out += "\n# --- data\n";
    out += fmt::format("chat_template: {}\ntrain_on_inputs: {}\ndataset_prepared_path: {}\n", name(data.chat_template),
                       boolean(data.train_on_inputs), quoted(data.dataset_prepared_path));
    write_datasets(out, "datasets", data.datasets);
    out += fmt::format("val_set_size: {}\n", number(data.val_set_size));
    write_datasets(out, "test_datasets", data.test_datasets);
    out += fmt::format("sequence_len: {}\nsample_packing: {}\n", data.sequence_len, boolean(data.sample_packing));

    const TrainingSection& training = config.training;
    out += "\n# --- training\n";
    out += fmt::format("micro_batch_size: {}\ngradient_accumulation_steps: {}\n", training.micro_batch_size,
                       training.gradient_accumulation_steps);
    out += fmt::format("max_steps: {}\nnum_epochs: {}\n", training.max_steps, number(training.num_epochs));
    out += fmt::format("learning_rate: {}\nlr_scheduler: {}\nwarmup_steps: {}\n", number(training.learning_rate),
                       name(training.lr_scheduler), training.warmup_steps);
    out += fmt::format("weight_decay: {}\nmax_grad_norm: {}\n", number(training.weight_decay),
                       number(training.max_grad_norm));
    out += fmt::format("adam_beta1: {}\nadam_beta2: {}\nadam_epsilon: {}\n", number(training.adam_beta1),
                       number(training.adam_beta2), number(training.adam_epsilon));
    out += fmt::format("gradient_checkpointing: {}\nbf16: {}\nseed: {}\n",
                       training.offload_checkpoints ? "offload" : boolean(training.gradient_checkpointing),
                       boolean(training.bf16), training.seed);
    out += fmt::format("bf16_activations: {}\n", boolean(training.bf16_activations));
    out += fmt::format("tiled_mlp: {}\ntiled_mlp_num_shards: {}\n", boolean(training.tiled_mlp),
                       training.tiled_mlp_num_shards);

    const OutputSection& output = config.output;
    out += "\n# --- output\n";
    out += fmt::format("output_dir: {}\nsave_steps: {}\nsave_total_limit: {}\nlogging_steps: {}\neval_steps: {}\n",
                       quoted(output.output_dir), output.save_steps, output.save_total_limit, output.logging_steps,
                       output.eval_steps);
    out += fmt::format("resume_from_checkpoint: {}\noverwrite_output_dir: {}\nlog_format: {}\npeak_tflops: {}\n",
                       optional_text(output.resume_from_checkpoint), boolean(output.overwrite_output_dir),
                       name(output.log_format), number(output.peak_tflops));

    const ParallelSection& parallel = config.parallel;
    out += "\n# --- parallel\n";
    out += fmt::format("sequence_parallel_degree: {}\nheads_k_stride: {}\n", parallel.sequence_parallel_degree,
                       parallel.heads_k_stride);
    out += fmt::format("ring_attn_func: {}\n", parallel.ring_attn_func ? name(*parallel.ring_attn_func) : "~");
    out += fmt::format("flash_attention: {}\nbackend: {}\ntransport: {}\nthreads: {}\n",
                       boolean(parallel.flash_attention), name(parallel.backend), name(parallel.transport),
                       parallel.threads);
    out += fmt::format("collective_timeout_s: {}\n", number(parallel.collective_timeout_s));
    out += "context_parallel:\n";
    out += fmt::format("  backend: {}\n  ulysses_degree: {}\n", name(parallel.context_parallel_backend),
                       parallel.ulysses_degree);
    out += fmt::format("  load_balance: {}\n", parallel.load_balance ? name(*parallel.load_balance) : "~");

    const GrpoSection& grpo = config.grpo;
    out += "\n# --- reinforcement learning\n";
    out += fmt::format("rl: {}\n", config.rl ? name(*config.rl) : "~");
    out += "trl:\n";
    out += fmt::format("  num_generations: {}\n  max_completion_length: {}\n", grpo.num_generations,
                       grpo.max_completion_length);
    out += fmt::format("  temperature: {}\n  top_p: {}\n  beta: {}\n", number(grpo.temperature), number(grpo.top_p),
                       number(grpo.beta));
    out += fmt::format("  epsilon: {}\n  epsilon_high: {}\n  num_iterations: {}\n", number(grpo.epsilon),
                       number(grpo.epsilon_high), grpo.num_iterations);
    out += fmt::format("  loss_type: {}\n  scale_rewards: {}\n", name(grpo.loss_type), boolean(grpo.scale_rewards));
    std::vector<std::string> weights;
    for (const double weight : grpo.reward_weights) weights.push_back(number(weight));
    out += fmt::format("  reward_funcs: [{}]\n  reward_weights: [{}]\n", fmt::join(grpo.reward_funcs, ", "),
                       fmt::join(weights, ", "));
    out += fmt::format("  reward_command: {}\n  reward_timeout: {}\n", optional_text(grpo.reward_command),
                       number(grpo.reward_timeout));
    out += fmt::format("  rollout_batch_size: {}\n", grpo.rollout_batch_size);
    return out;
}

std::string describe(const Config& config) {
    const ModelSection& model = config.model;
    const ModelConfig& shape = model.model_config;
    const std::string model_text =
        model.has_model_config
            ? fmt::format("fresh dim {} x {} layers, {}/{} heads, vocab {}", shape.dim, shape.n_layers, shape.n_heads,
                          shape.n_kv_heads, shape.vocab_size)
            : model.base_model;
    const TrainingSection& training = config.training;
    const std::string length = training.max_steps > 0 ? fmt::format("{} steps", training.max_steps)
                                                      : fmt::format("{} epochs", training.num_epochs);
    const ParallelSection& parallel = config.parallel;
    const RingAttnFunc ring = resolve_ring_attn_func(parallel.ring_attn_func, config.data.sample_packing);
    const LoadBalance balance = resolve_load_balance(parallel.load_balance, config.data.sample_packing);
    return fmt::format("{}: model {} | {} dataset(s), sequence_len {}{} | batch {} x {} accum, lr {} {} "
                       "(warmup {}), {} | SP {} {}{}, context_parallel {}, load_balance {}{} | {}{}",
                       config.source, model_text, config.data.datasets.size(), config.data.sequence_len,
                       config.data.sample_packing ? " packed" : "", training.micro_batch_size,
                       training.gradient_accumulation_steps, training.learning_rate, name(training.lr_scheduler),
                       training.warmup_steps, length, parallel.sequence_parallel_degree, name(ring),
                       parallel.ring_attn_func ? "" : " (auto)", name(parallel.context_parallel_backend), name(balance),
                       parallel.load_balance ? "" : " (auto)", name(parallel.backend),
                       config.rl ? fmt::format(" | rl {}", name(*config.rl)) : "");
}

}  // namespace ringlm
