// src/config: a full config reads back every field as written, defaults fill in, to_yaml
// round-trips, and every file of the bad corpus (tests/app/bad_configs/*.yaml) is refused with
// a one-line message that starts with the file and contains the text its first line expects.
#include "config/config.h"
#include "config/yaml_reader.h"
#include "util/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace ringlm {
namespace {

// RINGLM_SOURCE_DIR when set; else beside this file (CMake compiles it by absolute path).
std::filesystem::path test_dir() {
    const char* source_dir = std::getenv("RINGLM_SOURCE_DIR");
    if (source_dir) return std::filesystem::path(source_dir) / "tests" / "app";
    return std::filesystem::path(__FILE__).parent_path();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// The message parse_config / load_config throws, or "" when it does not throw.
template <typename Function>
std::string error_of(Function&& function) {
    try {
        function();
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

TEST(Config, FullConfigReadsEveryFieldAsWritten) {
    const Config config = load_config((test_dir() / "configs" / "full.yaml").string());
    const ModelSection& model = config.model;
    EXPECT_TRUE(model.base_model.empty());
    ASSERT_TRUE(model.has_model_config);
    EXPECT_EQ(model.model_config.dim, 96);
    EXPECT_EQ(model.model_config.n_layers, 3);
    EXPECT_EQ(model.model_config.n_heads, 6);
    EXPECT_EQ(model.model_config.n_kv_heads, 2);
    EXPECT_EQ(model.model_config.ffn_dim, 256);
    EXPECT_EQ(model.model_config.vocab_size, 512);
    EXPECT_EQ(model.model_config.rope_theta, 500000.0);
    EXPECT_EQ(model.model_config.norm_eps, 1.0e-6);
    EXPECT_EQ(model.model_config.max_position, 4096);
    EXPECT_FALSE(model.model_config.tied_embeddings);
    EXPECT_EQ(model.tokenizer, "data/tok512.bin");

    const DataSection& data = config.data;
    ASSERT_EQ(data.datasets.size(), 2u);
    EXPECT_EQ(data.datasets[0].path, "data/austen.h5");
    EXPECT_EQ(data.datasets[1].path, "data/more books.h5");
    EXPECT_EQ(data.val_set_size, 0.05);
    EXPECT_TRUE(data.test_datasets.empty());
    EXPECT_EQ(data.sequence_len, 2048);
    EXPECT_TRUE(data.sample_packing);

    const TrainingSection& training = config.training;
    EXPECT_EQ(training.micro_batch_size, 4);
    EXPECT_EQ(training.gradient_accumulation_steps, 8);
    EXPECT_EQ(training.max_steps, 1000);
    EXPECT_EQ(training.num_epochs, 2.5);
    EXPECT_EQ(training.learning_rate, 3e-4);
    EXPECT_EQ(training.lr_scheduler, LrScheduler::linear);
    EXPECT_EQ(training.warmup_steps, 100);
    EXPECT_EQ(training.weight_decay, 0.1);
    EXPECT_EQ(training.max_grad_norm, 0.5);
    EXPECT_EQ(training.adam_beta1, 0.85);
    EXPECT_EQ(training.adam_beta2, 0.95);
    EXPECT_EQ(training.adam_epsilon, 1e-6);
    EXPECT_TRUE(training.gradient_checkpointing);
    EXPECT_TRUE(training.tiled_mlp);
    EXPECT_EQ(training.tiled_mlp_num_shards, 4);
    EXPECT_TRUE(training.bf16);
    EXPECT_EQ(training.seed, 1234);

    const OutputSection& output = config.output;
    EXPECT_EQ(output.output_dir, "runs/full");
    EXPECT_EQ(output.save_steps, 200);
    EXPECT_EQ(output.save_total_limit, 3);
    EXPECT_EQ(output.logging_steps, 10);
    EXPECT_EQ(output.eval_steps, 50);
    EXPECT_EQ(output.resume_from_checkpoint, "auto");
    EXPECT_EQ(output.log_format, LogFormat::mllog);

    const ParallelSection& parallel = config.parallel;
    EXPECT_EQ(parallel.sequence_parallel_degree, 4);
    EXPECT_EQ(parallel.heads_k_stride, 1);
    EXPECT_EQ(parallel.context_parallel_backend, ContextParallelBackend::usp);
    EXPECT_EQ(parallel.ulysses_degree, 2);
    EXPECT_EQ(parallel.ring_attn_func, RingAttnFunc::batch_stripe);
    EXPECT_TRUE(parallel.flash_attention);
    EXPECT_EQ(parallel.backend, Device::cuda);
    EXPECT_EQ(parallel.transport, TransportKind::nccl);
    EXPECT_EQ(parallel.threads, 3);
    EXPECT_EQ(parallel.collective_timeout_s, 120.5);
    EXPECT_EQ(parallel.load_balance, LoadBalance::document);

    EXPECT_EQ(config.rl, RlMethod::grpo);
    const GrpoSection& grpo = config.grpo;
    EXPECT_EQ(grpo.num_generations, 16);
    EXPECT_EQ(grpo.max_completion_length, 1024);
    EXPECT_EQ(grpo.temperature, 0.7);
    EXPECT_EQ(grpo.top_p, 0.9);
    EXPECT_EQ(grpo.beta, 0.04);
    EXPECT_EQ(grpo.epsilon, 0.2);
    EXPECT_EQ(grpo.epsilon_high, 0.28);
    EXPECT_EQ(grpo.num_iterations, 2);
    EXPECT_EQ(grpo.loss_type, GrpoLossType::dr_grpo);
    EXPECT_FALSE(grpo.scale_rewards);
    EXPECT_EQ(grpo.reward_funcs, (std::vector<std::string>{"exact_answer", "length"}));
    EXPECT_EQ(grpo.reward_weights, (std::vector<double>{1.0, 0.25, 2.0}));
    EXPECT_EQ(grpo.reward_command, "python3 scripts/reward.py --strict");
    EXPECT_EQ(grpo.reward_timeout, 12.5);
    EXPECT_EQ(grpo.rollout_batch_size, 4);

    EXPECT_NO_THROW(validate_for_training(config));
    EXPECT_NO_THROW(validate_for_grpo(config));
}

TEST(Config, DefaultsFillIn) {
    const Config config = load_config((test_dir() / "configs" / "minimal.yaml").string());
    // Every section equals a default-constructed one except the keys the file sets.
    Config expected;
    expected.source = config.source;
    expected.model.base_model = "data/stories260K/stories260K.bin";
    expected.data.datasets = {{"data/austen.h5", {}}};
    EXPECT_EQ(config, expected) << to_yaml(config);
    // The documented values, spelt out, so a changed default is a visible decision.
    EXPECT_EQ(config.data.sequence_len, 512);
    EXPECT_EQ(config.training.micro_batch_size, 1);
    EXPECT_EQ(config.training.num_epochs, 1.0);
    EXPECT_EQ(config.training.max_steps, 0);
    EXPECT_EQ(config.training.lr_scheduler, LrScheduler::cosine);
    EXPECT_EQ(config.training.max_grad_norm, 1.0);
    EXPECT_EQ(config.training.seed, 42);
    EXPECT_EQ(config.output.output_dir, "./model-out");
    EXPECT_EQ(config.parallel.sequence_parallel_degree, 1);
    EXPECT_FALSE(config.parallel.ring_attn_func.has_value());
    EXPECT_FALSE(config.parallel.load_balance.has_value());
    EXPECT_FALSE(config.rl.has_value());
    EXPECT_EQ(config.grpo.epsilon_high, config.grpo.epsilon);
    EXPECT_TRUE(config.grpo.reward_weights.empty());
    EXPECT_THROW(validate_for_grpo(config), Error);
}

TEST(Config, ModelConfigDefaultsFollowTheShape) {
    const Config config = parse_config("model_config: {dim: 512, n_layers: 8, n_heads: 8, vocab_size: 4096}\n"
                                       "sequence_len: 1024\n",
                                       "inline.yaml");
    const ModelConfig& shape = config.model.model_config;
    EXPECT_EQ(shape.n_kv_heads, 8);
    EXPECT_EQ(shape.ffn_dim, 1376);   // 2/3 * 4 * 512 = 1365, up to a multiple of 32
    EXPECT_EQ(shape.max_position, 1024);
    EXPECT_EQ(shape.rope_theta, 10000.0);
    EXPECT_EQ(shape.norm_eps, 1e-5);
    EXPECT_TRUE(shape.tied_embeddings);
}

TEST(Config, NullValueMeansDefault) {
    const Config config = parse_config("base_model: a.bin\nwarmup_steps:\nring_attn_func: ~\nlearning_rate:\n", "n.yaml");
    EXPECT_EQ(config.training.warmup_steps, 0);
    EXPECT_EQ(config.training.learning_rate, TrainingSection{}.learning_rate);
    EXPECT_FALSE(config.parallel.ring_attn_func.has_value());
}

// gradient_checkpointing takes axolotl's third value, offload (checkpointing, with each
// layer's input in host memory), and writes it back as such.
TEST(Config, GradientCheckpointingOffload) {
    const Config offload = parse_config("base_model: a.bin\ngradient_checkpointing: offload\n", "o.yaml");
    EXPECT_TRUE(offload.training.gradient_checkpointing);
    EXPECT_TRUE(offload.training.offload_checkpoints);
    EXPECT_EQ(parse_config(to_yaml(offload), "o.yaml"), offload);
    EXPECT_NE(to_yaml(offload).find("gradient_checkpointing: offload\n"), std::string::npos);
    const Config in_place = parse_config("base_model: a.bin\ngradient_checkpointing: yes\n", "y.yaml");
    EXPECT_TRUE(in_place.training.gradient_checkpointing);
    EXPECT_FALSE(in_place.training.offload_checkpoints);
    const std::string message =
        error_of([] { parse_config("base_model: a.bin\ngradient_checkpointing: offlaod\n", "b.yaml"); });
    EXPECT_NE(message.find("gradient_checkpointing"), std::string::npos) << message;
    EXPECT_NE(message.find("offload"), std::string::npos) << message;
}

// bf16_activations rides on bf16 (the activations feed the bf16 matmuls): alone it is refused
// naming both keys; with bf16 it parses and is written back.
TEST(Config, Bf16ActivationsNeedBf16) {
    const Config both = parse_config("base_model: a.bin\nbf16: true\nbf16_activations: true\n", "b.yaml");
    EXPECT_TRUE(both.training.bf16);
    EXPECT_TRUE(both.training.bf16_activations);
    EXPECT_EQ(parse_config(to_yaml(both), "b.yaml"), both);
    EXPECT_NE(to_yaml(both).find("bf16_activations: true\n"), std::string::npos);
    EXPECT_FALSE(parse_config("base_model: a.bin\nbf16: true\n", "m.yaml").training.bf16_activations);
    const std::string message =
        error_of([] { parse_config("base_model: a.bin\nbf16_activations: true\n", "a.yaml"); });
    EXPECT_NE(message.find("bf16_activations"), std::string::npos) << message;
    EXPECT_NE(message.find("bf16: true"), std::string::npos) << message;
}

TEST(Config, RewardWeightsDefaultToOnePerReward) {
    const Config config = parse_config("base_model: a.bin\nrl: grpo\ndatasets: [{path: p.jsonl}]\n"
                                       "trl: {reward_funcs: [length, regex_format], reward_command: ./score}\n",
                                       "g.yaml");
    EXPECT_EQ(config.grpo.reward_weights, (std::vector<double>{1.0, 1.0, 1.0}));
    EXPECT_NO_THROW(validate_for_grpo(config));
}

TEST(Config, TypedDatasetsReadAsWritten) {
    const Config config = load_config((test_dir() / "configs" / "typed_datasets.yaml").string());
    const DataSection& data = config.data;
    EXPECT_EQ(data.chat_template, ChatTemplateName::qwen3);
    EXPECT_EQ(data.dataset_prepared_path, "prepared/here");
    ASSERT_EQ(data.datasets.size(), 5u);
    const DatasetFormat& chat = data.datasets[0].format;
    EXPECT_EQ(chat.type, DatasetType::chat_template);
    EXPECT_EQ(chat.chat_template, ChatTemplateName::qwen3);  // the top-level default
    EXPECT_EQ(chat.field_messages, "messages");
    EXPECT_EQ(chat.role_property, "role");
    EXPECT_EQ(chat.roles_to_train, std::vector<std::string>{"assistant"});
    EXPECT_EQ(chat.train_on_eos, TrainOnEos::turn);
    EXPECT_FALSE(chat.train_on_inputs);
    const DatasetFormat& sharegpt = data.datasets[1].format;
    EXPECT_EQ(sharegpt.field_messages, "conversations");
    EXPECT_EQ(sharegpt.role_property, "from");
    EXPECT_EQ(sharegpt.content_property, "value");
    EXPECT_EQ(sharegpt.chat_template, ChatTemplateName::chatml);
    EXPECT_EQ(sharegpt.roles_to_train, (std::vector<std::string>{"assistant", "user"}));  // gpt, human mapped
    EXPECT_EQ(sharegpt.train_on_eos, TrainOnEos::last);
    EXPECT_EQ(data.datasets[2].format.type, DatasetType::alpaca);
    EXPECT_EQ(data.datasets[3].format.type, DatasetType::completion);
    EXPECT_EQ(data.datasets[3].format.field, "body");
    EXPECT_EQ(data.datasets[4].format, DatasetFormat{});  // a token file
    EXPECT_EQ(data.test_datasets[0].format.train_on_eos, TrainOnEos::all);
    // defaults: axolotl's
    const Config minimal = load_config((test_dir() / "configs" / "minimal.yaml").string());
    EXPECT_EQ(minimal.data.chat_template, ChatTemplateName::tokenizer_default);
    EXPECT_FALSE(minimal.data.train_on_inputs);
    EXPECT_EQ(minimal.data.dataset_prepared_path, "last_run_prepared");
}

TEST(Config, ToYamlRoundTrips) {
    for (const char* name : {"full.yaml", "minimal.yaml", "typed_datasets.yaml"}) {
        const Config config = load_config((test_dir() / "configs" / name).string());
        const std::string text = to_yaml(config);
        const Config again = parse_config(text, config.source);
        EXPECT_EQ(again, config) << name << ":\n" << text;
        EXPECT_EQ(to_yaml(again), text) << name;
    }
    // Values whose text is awkward: tiny and long doubles, quotes and backslashes in paths.
    std::mt19937_64 rng(std::random_device{}());
    Config config = load_config((test_dir() / "configs" / "full.yaml").string());
    config.training.learning_rate = std::uniform_real_distribution<double>(1e-7, 1e-2)(rng);
    config.training.weight_decay = 1.0 / 3.0;
    config.model.model_config.norm_eps = 1e-12;
    config.data.datasets[0].path = "odd \"name\" \\ with: colon # and hash";
    config.output.resume_from_checkpoint = "";
    config.parallel.ring_attn_func.reset();
    config.parallel.load_balance.reset();
    config.rl.reset();
    const std::string text = to_yaml(config);
    EXPECT_EQ(parse_config(text, config.source), config) << "learning_rate " << config.training.learning_rate << "\n"
                                                         << text;
}

TEST(Config, RingAttnFuncResolution) {
    EXPECT_EQ(resolve_ring_attn_func(std::nullopt, true), RingAttnFunc::varlen_llama3);
    EXPECT_EQ(resolve_ring_attn_func(std::nullopt, false), RingAttnFunc::batch_zigzag);
    EXPECT_EQ(resolve_ring_attn_func(RingAttnFunc::batch_ring, true), RingAttnFunc::batch_ring);
    for (const std::string_view name_text : ring_attn_func_names) {
        ASSERT_TRUE(parse_ring_attn_func(name_text).has_value()) << name_text;
        EXPECT_EQ(name(*parse_ring_attn_func(name_text)), name_text);
    }
    EXPECT_FALSE(parse_ring_attn_func("zigzag").has_value());
    EXPECT_EQ(ring_attn_func_list(), "batch_ring, batch_zigzag, batch_stripe, varlen_llama3");
}

// Unset: document for packed rows, the variant's own layout for one document per row.
TEST(Config, LoadBalanceResolution) {
    EXPECT_EQ(resolve_load_balance(std::nullopt, true), LoadBalance::document);
    EXPECT_EQ(resolve_load_balance(std::nullopt, false), LoadBalance::none);
    EXPECT_EQ(resolve_load_balance(LoadBalance::none, true), LoadBalance::none);
    EXPECT_EQ(resolve_load_balance(LoadBalance::document, false), LoadBalance::document);
    EXPECT_EQ(parse_config("base_model: a.bin\ncontext_parallel: {load_balance: none}\n", "c.yaml").parallel.load_balance,
              LoadBalance::none);
}

TEST(Config, DescribeIsOneLine) {
    const Config config = load_config((test_dir() / "configs" / "full.yaml").string());
    const std::string line = describe(config);
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_NE(line.find("batch_stripe"), std::string::npos) << line;
    EXPECT_NE(line.find("SP 4"), std::string::npos) << line;
    EXPECT_NE(line.find("context_parallel usp"), std::string::npos) << line;
}

TEST(Config, EditDistanceKnownValues) {
    EXPECT_EQ(edit_distance("", ""), 0u);
    EXPECT_EQ(edit_distance("abc", ""), 3u);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
    EXPECT_EQ(edit_distance("learning_rat", "learning_rate"), 1u);
    EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
    const std::vector<std::string> keys{"seed", "sequence_len", "save_steps"};
    EXPECT_EQ(closest_name("sequence_length", keys), "sequence_len");
}

TEST(Config, MissingFileNamesIt) {
    const std::string message = error_of([] { load_config("no/such/config.yaml"); });
    EXPECT_NE(message.find("no/such/config.yaml: config file not found"), std::string::npos) << message;
    const std::string folder = error_of([] { load_config((test_dir() / "configs").string()); });
    EXPECT_NE(folder.find("not a file"), std::string::npos) << folder;
}

TEST(Config, ValidateForTrainingNeedsDatasets) {
    const Config config = parse_config("base_model: a.bin\n", "generate.yaml");
    const std::string message = error_of([&] { validate_for_training(config); });
    EXPECT_EQ(message.rfind("generate.yaml: key 'datasets' is required", 0), 0u) << message;
}

// Every file in bad_configs/ must be refused. Its first line says what the message must
// contain: `# expect: <substring>`; a zero-byte file expects the empty-config message.
TEST(Config, BadConfigCorpus) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(test_dir() / "bad_configs"))
        if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    ASSERT_GE(files.size(), 15u) << "bad_configs not found under " << test_dir();
    for (const auto& file : files) {
        const std::string text = read_file(file);
        std::string expected = "the config is empty";
        if (!text.empty()) {
            const std::string marker = "# expect: ";
            const std::string first_line = text.substr(0, text.find('\n'));
            ASSERT_EQ(first_line.rfind(marker, 0), 0u) << file << ": first line must be '# expect: <substring>'";
            expected = first_line.substr(marker.size());
        }
        const std::string message = error_of([&] { load_config(file.string()); });
        ASSERT_FALSE(message.empty()) << file << " was accepted";
        EXPECT_NE(message.find(expected), std::string::npos) << file << "\n  message: " << message
                                                             << "\n  expected: " << expected;
        EXPECT_EQ(message.rfind(file.string(), 0), 0u) << "message must start with the file: " << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << "message must be one line: " << message;
    }
}

}  // namespace
}  // namespace ringlm
