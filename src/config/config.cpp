// YAML -> Config: each section read with its defaults and per-value checks, unknown keys
// refused level by level, then the checks that relate keys to each other.
#include "config/config.h"

#include "config/yaml_reader.h"
#include "util/error.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ringlm {

// --- names ------------------------------------------------------------------------------------

std::string_view name(LrScheduler value) { return lr_scheduler_names[static_cast<size_t>(value)]; }
std::string_view name(LogFormat value) { return log_format_names[static_cast<size_t>(value)]; }
std::string_view name(Device value) { return backend_names[static_cast<size_t>(value)]; }
std::string_view name(RlMethod value) { return rl_method_names[static_cast<size_t>(value)]; }
std::string_view name(GrpoLossType value) { return grpo_loss_type_names[static_cast<size_t>(value)]; }

// --- sections ---------------------------------------------------------------------------------

static int64_t required_integer(YamlMap& map, const std::string& key, int64_t minimum, const char* meaning) {
    if (!map.has(key)) map.fail_key(key, fmt::format("is required: {}", meaning));
    return map.integer(key, 0, minimum);
}

// `model_config:` keys, then the shape's own consistency.
static ModelConfig read_model_config(YamlMap map, int64_t sequence_len) {
    ModelConfig model;
    model.dim = required_integer(map, "dim", 1, "the model width (e.g. 288)");
    model.n_layers = required_integer(map, "n_layers", 1, "the number of transformer blocks (e.g. 6)");
    model.n_heads = required_integer(map, "n_heads", 1, "the number of query heads (e.g. 6)");
    model.vocab_size = required_integer(map, "vocab_size", 1, "the tokenizer's vocabulary size (e.g. 512)");
    model.n_kv_heads = map.integer("n_kv_heads", model.n_heads, 1);
    // llama2.c's rule: 2/3 of 4*dim (SwiGLU has three matrices, so the same parameter count as a
    // 4*dim GELU MLP), rounded up to a multiple of 32 for the GEMMs.
    const int64_t swiglu_hidden = 2 * 4 * model.dim / 3;
    model.ffn_dim = map.integer("ffn_dim", (swiglu_hidden + 31) / 32 * 32, 1);
    model.max_position = map.integer("max_position", sequence_len, 1);
    model.rope_theta = map.number("rope_theta", 10000.0, positive);
    model.norm_eps = map.number("norm_eps", 1e-5, positive);
    model.tied_embeddings = map.boolean("tied_embeddings", true);
    map.reject_unknown_keys();

    if (model.dim % model.n_heads != 0)
        map.fail_key("dim", fmt::format("= {} must be divisible by n_heads = {} (head_dim = dim / n_heads); "
                                        "choose dim = n_heads * head_dim",
                                        model.dim, model.n_heads));
    if (model.n_heads % model.n_kv_heads != 0)
        map.fail_key("n_kv_heads", fmt::format("= {} must divide n_heads = {} (each KV head serves "
                                               "n_heads / n_kv_heads query heads)",
                                               model.n_kv_heads, model.n_heads));
    if (model.head_dim() % 2 != 0)
        map.fail_key("dim", fmt::format("= {} with n_heads = {} gives head_dim {}, which must be even "
                                        "(RoPE rotates pairs of dimensions)",
                                        model.dim, model.n_heads, model.head_dim()));
    if (model.max_position < sequence_len)
        map.fail_key("max_position", fmt::format("= {} is shorter than sequence_len = {}; raise max_position "
                                                 "or lower sequence_len",
                                                 model.max_position, sequence_len));
    return model;
}

// A typed entry's keys (config.h DatasetEntry); `data` gives the top-level defaults.
static DatasetFormat read_dataset_format(YamlMap& entry, const DataSection& data) {
    DatasetFormat format;
    const std::optional<size_t> type = entry.choice<size_t>("type", dataset_type_names);
    if (!type) return format;  // a token file: none of the keys below apply (refused as unknown)
    format.type = static_cast<DatasetType>(*type + 1);
    format.train_on_inputs = data.train_on_inputs;
    format.chat_template = data.chat_template;
    const auto only_for = [&](const std::string& key, DatasetType wanted) {
        if (entry.has(key) && format.type != wanted)
            entry.fail_key(key, fmt::format("is for type {}, not {}", name(wanted), name(format.type)));
    };
    only_for("field", DatasetType::completion);
    format.field = entry.text("field", format.field);
    for (const char* key : {"field_messages", "field_system", "message_property_mappings", "chat_template",
                            "roles_to_train", "train_on_eos"})
        only_for(key, DatasetType::chat_template);
    format.field_messages = entry.text("field_messages", format.field_messages);
    format.field_system = entry.text("field_system", format.field_system);
    YamlMap mappings = entry.map("message_property_mappings");
    format.role_property = mappings.text("role", format.role_property);
    format.content_property = mappings.text("content", format.content_property);
    mappings.reject_unknown_keys();
    format.chat_template = entry.choice<ChatTemplateName>("chat_template", chat_template_names).value_or(format.chat_template);
    if (entry.has("roles_to_train")) {
        format.roles_to_train.clear();
        const std::vector<YAML::Node> roles = entry.list("roles_to_train");
        for (size_t i = 0; i < roles.size(); i++) {
            // axolotl maps the role names it knows (human -> user, gpt -> assistant)
            const std::string role = read_text(roles[i], entry.source(), fmt::format("{}[{}]", entry.key_path("roles_to_train"), i));
            format.roles_to_train.push_back(role == "human" ? "user" : role == "gpt" ? "assistant" : role);
        }
    }
    format.train_on_eos = entry.choice<TrainOnEos>("train_on_eos", train_on_eos_names).value_or(format.train_on_eos);
    return format;
}

// `datasets:` / `test_datasets:`: a list of {path: file} (and a type with its keys).
static std::vector<DatasetEntry> read_datasets(YamlMap& top, const std::string& key, const DataSection& data) {
    std::vector<DatasetEntry> entries;
    const std::vector<YAML::Node> elements = top.list(key);
    for (size_t i = 0; i < elements.size(); i++) {
        const std::string element_path = fmt::format("{}[{}]", top.key_path(key), i);
        if (!elements[i].IsMap())
            fail_value(elements[i], top.source(), element_path, "a map like '- path: file.h5'");
        YamlMap entry(elements[i], top.source(), element_path);
        if (!entry.has("path")) entry.fail_key("path", "is required: the file to read (write '- path: file.h5')");
        DatasetEntry dataset{entry.text("path", ""), read_dataset_format(entry, data)};
        if (dataset.path.empty()) fail_value(entry.value("path"), top.source(), entry.key_path("path"), "a file path");
        entry.reject_unknown_keys();
        entries.push_back(dataset);
    }
    return entries;
}

static std::string reward_list(const GrpoSection& grpo) {
    std::string rewards = fmt::format("reward_funcs: [{}]", fmt::join(grpo.reward_funcs, ", "));
    if (!grpo.reward_command.empty()) rewards += ", then reward_command";
    return rewards;
}

// `trl:` (TRL's GRPOConfig names).
static GrpoSection read_grpo(YamlMap map) {
    GrpoSection grpo;
    grpo.num_generations = map.integer("num_generations", grpo.num_generations, 2);
    grpo.max_completion_length = map.integer("max_completion_length", grpo.max_completion_length, 1);
    grpo.temperature = map.number("temperature", grpo.temperature, positive);
    grpo.top_p = map.number("top_p", grpo.top_p, unit_interval_open_bottom);
    grpo.beta = map.number("beta", grpo.beta, non_negative);
    grpo.epsilon = map.number("epsilon", grpo.epsilon, positive);
    grpo.epsilon_high = map.number("epsilon_high", grpo.epsilon, positive);
    grpo.num_iterations = map.integer("num_iterations", grpo.num_iterations, 1);
    grpo.loss_type = map.choice<GrpoLossType>("loss_type", grpo_loss_type_names).value_or(grpo.loss_type);
    grpo.scale_rewards = map.boolean("scale_rewards", grpo.scale_rewards);
    const std::vector<YAML::Node> funcs = map.list("reward_funcs");
    for (size_t i = 0; i < funcs.size(); i++) {
        const size_t index = read_choice(funcs[i], map.source(), fmt::format("{}[{}]", map.key_path("reward_funcs"), i),
                                         reward_func_names);
        grpo.reward_funcs.emplace_back(reward_func_names[index]);
    }
    const std::vector<YAML::Node> weights = map.list("reward_weights");
    for (size_t i = 0; i < weights.size(); i++)
        grpo.reward_weights.push_back(read_number(weights[i], map.source(),
                                                  fmt::format("{}[{}]", map.key_path("reward_weights"), i), NumberRange{}));
    grpo.reward_command = map.text("reward_command", "");
    grpo.reward_timeout = map.number("reward_timeout", grpo.reward_timeout, positive);
    grpo.rollout_batch_size = map.integer("rollout_batch_size", grpo.rollout_batch_size, 1);
    map.reject_unknown_keys();

    if (grpo.epsilon_high < grpo.epsilon)
        map.fail_key("epsilon_high", fmt::format("= {} must be >= epsilon = {} (the upper clip is 1 + epsilon_high)",
                                                 grpo.epsilon_high, grpo.epsilon));
    const size_t n_rewards = grpo.reward_funcs.size() + (grpo.reward_command.empty() ? 0 : 1);
    if (!map.has("reward_weights")) grpo.reward_weights.assign(n_rewards, 1.0);
    if (grpo.reward_weights.size() != n_rewards)
        map.fail_key("reward_weights", fmt::format("has {} weights for {} rewards ({}); give one weight per reward, "
                                                   "in that order",
                                                   grpo.reward_weights.size(), n_rewards, reward_list(grpo)));
    return grpo;
}

// --- the whole file ---------------------------------------------------------------------------

Config parse_config(const std::string& yaml_text, const std::string& source_name) {
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::ParserException& error) {
        fail("{}:{}: invalid YAML: {} (check indentation, 'key: value' spacing and quotes)", source_name,
             error.mark.line + 1, error.msg);
    }
    if (!root.IsDefined() || root.IsNull())
        fail("{}: the config is empty; it needs at least base_model or model_config, and datasets to train "
             "(see jobs/configs/ for examples)",
             source_name);
    YamlMap top(root, source_name, "");
    Config config;
    config.source = source_name;

    DataSection& data = config.data;
    data.chat_template = top.choice<ChatTemplateName>("chat_template", chat_template_names).value_or(data.chat_template);
    data.train_on_inputs = top.boolean("train_on_inputs", data.train_on_inputs);
    data.dataset_prepared_path = top.text("dataset_prepared_path", data.dataset_prepared_path);
    if (data.dataset_prepared_path.empty())
        fail_value(top.value("dataset_prepared_path"), source_name, "dataset_prepared_path", "a folder path");
    data.datasets = read_datasets(top, "datasets", data);
    data.val_set_size = top.number("val_set_size", data.val_set_size, unit_interval_open_top);
    data.test_datasets = read_datasets(top, "test_datasets", data);
    data.sequence_len = top.integer("sequence_len", data.sequence_len, 1);
    data.sample_packing = top.boolean("sample_packing", data.sample_packing);

    ModelSection& model = config.model;
    model.base_model = top.text("base_model", "");
    model.has_model_config = top.has("model_config");
    if (model.has_model_config) model.model_config = read_model_config(top.map("model_config"), data.sequence_len);
    model.tokenizer = top.text("tokenizer", "");

    TrainingSection& training = config.training;
    training.micro_batch_size = top.integer("micro_batch_size", training.micro_batch_size, 1);
    training.gradient_accumulation_steps =
        top.integer("gradient_accumulation_steps", training.gradient_accumulation_steps, 1);
    training.max_steps = top.integer("max_steps", training.max_steps, 0);
    training.num_epochs = top.number("num_epochs", training.num_epochs, non_negative);
    training.learning_rate = top.number("learning_rate", training.learning_rate, positive);
    training.lr_scheduler = top.choice<LrScheduler>("lr_scheduler", lr_scheduler_names).value_or(training.lr_scheduler);
    training.warmup_steps = top.integer("warmup_steps", training.warmup_steps, 0);
    training.weight_decay = top.number("weight_decay", training.weight_decay, non_negative);
    training.max_grad_norm = top.number("max_grad_norm", training.max_grad_norm, non_negative);
    training.adam_beta1 = top.number("adam_beta1", training.adam_beta1, unit_interval_open_top);
    training.adam_beta2 = top.number("adam_beta2", training.adam_beta2, unit_interval_open_top);
    training.adam_epsilon = top.number("adam_epsilon", training.adam_epsilon, positive);
    // true, false, or axolotl's `offload`: checkpointing with each layer's input in host memory
    if (top.has("gradient_checkpointing")) {
        const YAML::Node value = top.value("gradient_checkpointing");
        training.offload_checkpoints = value.IsScalar() && value.Scalar() == "offload";
        training.gradient_checkpointing =
            training.offload_checkpoints ||
            read_boolean(value, source_name, top.key_path("gradient_checkpointing"), "true, false or offload");
    }
    training.tiled_mlp = top.boolean("tiled_mlp", training.tiled_mlp);
    training.tiled_mlp_num_shards = top.integer("tiled_mlp_num_shards", training.tiled_mlp_num_shards, 0);
    training.bf16 = top.boolean("bf16", training.bf16);
    training.bf16_activations = top.boolean("bf16_activations", training.bf16_activations);
    training.seed = top.integer("seed", training.seed, 0);

    OutputSection& output = config.output;
    output.output_dir = top.text("output_dir", output.output_dir);
    if (output.output_dir.empty()) fail_value(top.value("output_dir"), source_name, "output_dir", "a folder path");
    output.save_steps = top.integer("save_steps", output.save_steps, 0);
    output.save_total_limit = top.integer("save_total_limit", output.save_total_limit, 0);
    output.logging_steps = top.integer("logging_steps", output.logging_steps, 1);
    output.eval_steps = top.integer("eval_steps", output.eval_steps, 0);
    output.resume_from_checkpoint = top.text("resume_from_checkpoint", "");
    output.overwrite_output_dir = top.boolean("overwrite_output_dir", output.overwrite_output_dir);
    output.log_format = top.choice<LogFormat>("log_format", log_format_names).value_or(output.log_format);
    output.peak_tflops = top.number("peak_tflops", output.peak_tflops, non_negative);

    ParallelSection& parallel = config.parallel;
    parallel.sequence_parallel_degree = top.integer("sequence_parallel_degree", parallel.sequence_parallel_degree, 1);
    parallel.heads_k_stride = top.integer("heads_k_stride", parallel.heads_k_stride, 0);
    parallel.ring_attn_func = top.choice<RingAttnFunc>("ring_attn_func", ring_attn_func_names);
    parallel.flash_attention = top.boolean("flash_attention", parallel.flash_attention);
    parallel.backend = top.choice<Device>("backend", backend_names).value_or(parallel.backend);
    parallel.transport = top.choice<TransportKind>("transport", transport_names).value_or(parallel.transport);
    parallel.threads = top.integer("threads", parallel.threads, 0);
    parallel.collective_timeout_s = top.number("collective_timeout_s", parallel.collective_timeout_s, non_negative);
    // `context_parallel:` (axolotl's newer block): size is sequence_parallel_degree.
    YamlMap context_parallel = top.map("context_parallel");
    if (context_parallel.has("size")) {
        const int64_t size = context_parallel.integer("size", 1, 1);
        if (top.has("sequence_parallel_degree") && size != parallel.sequence_parallel_degree)
            context_parallel.fail_key("size", fmt::format("{} differs from sequence_parallel_degree {}: they are the same "
                                                          "setting; give one of them (or the same value)",
                                                          size, parallel.sequence_parallel_degree));
        parallel.sequence_parallel_degree = size;
    }
    parallel.context_parallel_backend =
        context_parallel.choice<ContextParallelBackend>("backend", context_parallel_backend_names)
            .value_or(parallel.context_parallel_backend);
    parallel.ulysses_degree = context_parallel.integer("ulysses_degree", parallel.ulysses_degree, 0);
    parallel.load_balance = context_parallel.choice<LoadBalance>("load_balance", load_balance_names);
    context_parallel.reject_unknown_keys();
    if (parallel.ulysses_degree > 0 && parallel.sequence_parallel_degree % parallel.ulysses_degree != 0)
        context_parallel.fail_key("ulysses_degree", fmt::format("{} must divide the context-parallel size {}",
                                                                parallel.ulysses_degree,
                                                                parallel.sequence_parallel_degree));
    if (parallel.ulysses_degree > 0 && parallel.context_parallel_backend != ContextParallelBackend::usp &&
        parallel.context_parallel_backend != ContextParallelBackend::automatic)
        context_parallel.fail_key("ulysses_degree",
                                  fmt::format("is for backend usp (backend {} sets it: ring 1, ulysses the size)",
                                              name(parallel.context_parallel_backend)));

    config.rl = top.choice<RlMethod>("rl", rl_method_names);
    config.grpo = read_grpo(top.map("trl"));

    top.reject_unknown_keys();

    // --- checks across keys (after unknown keys, so a misspelt key is reported as such) ---
    const bool has_base_model = !model.base_model.empty();
    if (has_base_model && model.has_model_config)
        top.fail_key("base_model", "and model_config are both given: keep base_model to fine-tune that checkpoint, "
                                   "or model_config to train a freshly initialised model");
    if (!has_base_model && !model.has_model_config)
        fail("{}: no model: give base_model (a llama2.c .bin, a ringlm checkpoint or a Hugging Face folder) or model_config (dim, n_layers, n_heads, "
             "vocab_size, ...) for a freshly initialised model",
             source_name);
    if (data.val_set_size > 0 && !data.test_datasets.empty())
        top.fail_key("val_set_size", "and test_datasets are both given: evaluate on a held-out fraction of datasets "
                                     "or on test_datasets, not both");
    if (parallel.transport == TransportKind::nccl && parallel.backend != Device::cuda)
        top.fail_key("transport", "nccl needs backend: cuda (NCCL moves GPU memory); with backend cpu use transport "
                                  "mpi or auto");
    if (output.overwrite_output_dir && !output.resume_from_checkpoint.empty())
        top.fail_key("overwrite_output_dir", "is true and resume_from_checkpoint is set: continue the earlier run "
                                             "(resume_from_checkpoint) or start over (overwrite_output_dir), not both");
    if (training.bf16_activations && !training.bf16)
        top.fail_key("bf16_activations", "is true but bf16 is not: bf16 activations feed the bf16 matmuls, so set "
                                         "bf16: true as well");
    if (training.max_steps == 0 && training.num_epochs == 0)
        top.fail_key("num_epochs", "is 0 and max_steps is not set: give max_steps (optimizer steps) or num_epochs > 0");
    return config;
}

Config load_config(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error))
        fail("{}: config file not found (or not a file); check the path", path);
    std::ifstream file(path, std::ios::binary);
    std::stringstream text;
    text << file.rdbuf();
    if (!file) fail("{}: cannot read the config file: {}", path, std::strerror(errno));
    return parse_config(text.str(), path);
}

void validate_for_training(const Config& config) {
    if (config.data.datasets.empty())
        fail("{}: key 'datasets' is required to train or evaluate: a list like 'datasets: [{{path: data/austen.h5}}]' "
             "(make token files with 'ringlm prepare')",
             config.source);
}

void validate_for_grpo(const Config& config) {
    if (config.rl != RlMethod::grpo) fail("{}: key 'rl' must be 'grpo' for 'ringlm grpo' (add 'rl: grpo')", config.source);
    if (config.data.datasets.empty())
        fail("{}: key 'datasets' is required for GRPO: a list like 'datasets: [{{path: prompts.jsonl}}]' of prompt files",
             config.source);
    for (size_t i = 0; i < config.data.datasets.size(); i++)
        if (config.data.datasets[i].format.type != DatasetType::tokens)
            fail("{}: key 'datasets[{}].type' is for training data; GRPO datasets are prompt JSONL (lines with "
                 "\"prompt\" or chat \"messages\"): remove type",
                 config.source, i);
    if (config.grpo.reward_funcs.empty() && config.grpo.reward_command.empty())
        fail("{}: key 'trl.reward_funcs' is empty and trl.reward_command is not set: give at least one reward "
             "(built-ins: {})",
             config.source, fmt::join(reward_func_names, ", "));
}

}  // namespace ringlm
