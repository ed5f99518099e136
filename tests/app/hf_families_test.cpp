// Model families from Hugging Face folders, against an independent PyTorch reference
// (tests/reference/hf_family_reference.py: its own safetensors writer and the family's forward
// and backward in float64, written from the transformers conventions). For each family:
// ringlm's logits, loss and every parameter's gradient on the folder it wrote equal the
// reference's; export writes the family's config.json keys, and re-importing the export gives
// the same config and the same bits.
#include "model/hf_hub.h"
#include "model/hf_model.h"
#include "model/pretrained.h"
#include "ops/ops.h"
#include "reference_io.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

namespace ringlm {
using namespace ringlm::testing;

namespace {

namespace fs = std::filesystem;

// A small config.json of `model_type` (dim 32, 2 layers, 4 query heads over 2 KV heads, head
// size 8 unless `extra` says otherwise) with the family's own keys merged in from `extra`.
nlohmann::json family_config(const std::string& model_type, const nlohmann::json& extra) {
    nlohmann::json config{{"model_type", model_type}, {"hidden_size", 32},          {"intermediate_size", 48},
                          {"num_hidden_layers", 2},    {"num_attention_heads", 4},   {"num_key_value_heads", 2},
                          {"vocab_size", 61},          {"rms_norm_eps", 1e-6},       {"rope_theta", 500000.0},
                          {"max_position_embeddings", 128}, {"tie_word_embeddings", false}, {"hidden_act", "silu"}};
    config.update(extra);
    return config;
}

// Every parameter of `a` equals `b`'s bit for bit.
void expect_same_bits(const Llama& a, const Llama& b) {
    ASSERT_EQ(a.config, b.config);
    ASSERT_EQ(a.n_parameters(), b.n_parameters());
    EXPECT_EQ(std::memcmp(a.parameters.data<float>(), b.parameters.data<float>(), a.parameters.bytes()), 0);
}

// The families under test, by test name: config.json of each.
std::map<std::string, nlohmann::json> family_configs() {
    const nlohmann::json llama3_8{{"rope_type", "llama3"},  {"factor", 8.0}, {"low_freq_factor", 1.0},
                                  {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 256}};
    nlohmann::json llama3_32 = llama3_8;
    llama3_32["factor"] = 32.0;
    return {
        // original_max_position_embeddings 256 with head size 8 and theta 500000 (wavelengths 6.3,
        // 167, 4.4e3, 1.2e5 against 256 / 4 and 256 / 1): the llama3 rule keeps the first
        // frequency, blends the second and divides the last two
        {"llama31", family_config("llama", {{"rope_scaling", llama3_8}, {"attention_bias", false}, {"mlp_bias", false}})},
        {"llama32", family_config("llama", {{"rope_scaling", llama3_32}, {"tie_word_embeddings", true}})},
        {"linear", family_config("llama", {{"rope_scaling", {{"type", "linear"}, {"factor", 4.0}}}})},
        // Qwen2.5's 128K setting: YaRN, with its attention factor on cos and sin
        {"qwen25_yarn",
         family_config("qwen2", {{"rope_scaling", {{"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32}}},
                                 {"use_sliding_window", false}, {"rope_theta", 10000.0}})},
        {"qwen25", family_config("qwen2", {{"use_sliding_window", false}, {"sliding_window", 4096},
                                           {"max_window_layers", 2}, {"rope_theta", 1000000.0},
                                           {"tie_word_embeddings", true}})},
        // head_dim 16 with hidden 32 and 4 heads: q_proj [64, 32], o_proj [32, 64]
        {"qwen3", family_config("qwen3", {{"head_dim", 16}, {"attention_bias", false}, {"use_sliding_window", false},
                                          {"rope_theta", 1000000.0}, {"tie_word_embeddings", true}})},
        {"mistral", family_config("mistral", {{"sliding_window", nullptr}, {"rope_theta", 1000000.0}})},
    };
}

// f32 against float64 through 2 layers, weights of std 0.08, 40 tokens; then export.
void expect_matches_reference(const std::string& name, const nlohmann::json& config, const std::string& run,
                              const TokenBatch& batch) {
    const std::map<std::string, Tensor> expected = read_reference_folder(run + "/out");

    Llama model = load_base_model(run + "/hf");
    Tape tape;
    Grads grads;
    bind_gradients(model, grads);
    Tensor loss = sum(tape, llama_token_losses(tape, model, batch));
    tape.backward(loss, grads);

    const double logits_error = max_relative_error(model_logits(model, batch), expected.at("logits"));
    const double reference_loss = expected.at("loss").data<double>()[0];
    const double loss_error = std::fabs(loss.data<float>()[0] - reference_loss) / std::fabs(reference_loss);
    double gradient_error = 0;
    std::string worst;
    for (const NamedParameter& p : model.named) {
        const double error = max_relative_error(p.grad, expected.at("grad " + hf_tensor_name(p.name)));
        if (error >= gradient_error) std::tie(gradient_error, worst) = std::tie(error, p.name);
    }
    EXPECT_LE(logits_error, 1e-5) << "logits";
    EXPECT_LE(loss_error, 1e-6) << "loss";
    EXPECT_LE(gradient_error, 1e-5) << "gradient of " << worst;
    fmt::print("{}: logits {:.2e}, loss {:.2e}, worst gradient {:.2e} ({})\n", name, logits_error, loss_error,
               gradient_error, worst);

    // export: the family's keys, then the same model back, bit for bit
    fs::create_directories(run + "/export");
    save_hf_model(run + "/export", model, DType::f32);
    nlohmann::json written = nlohmann::json::parse(std::ifstream(run + "/export/config.json"));
    EXPECT_EQ(written["model_type"], config["model_type"] == "mistral" ? "llama" : config["model_type"]);
    for (const char* key : {"head_dim", "tie_word_embeddings", "num_key_value_heads", "rope_theta"}) {
        if (config.contains(key)) {
            EXPECT_EQ(written[key], config[key]) << key;
        }
    }
    if (config.contains("rope_scaling")) {  // every key given comes back ("type" as "rope_type")
        for (const auto& [key, value] : config["rope_scaling"].items()) {
            EXPECT_EQ(written["rope_scaling"][key == "type" ? "rope_type" : key], value) << "rope_scaling." << key;
        }
    }
    expect_same_bits(load_base_model(run + "/export"), model);
}

}  // namespace

// One reference run for every family (torch's start-up is most of its time).
TEST(HfFamilies, EveryFamilyMatchesPyTorchReferenceAndRoundTrips) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t T = 40;
    const std::string root = make_temp_folder("ringlm_hf_family_");
    std::map<std::string, TokenBatch> batches;
    std::string arguments;
    for (const auto& [name, config] : family_configs()) {
        TokenBatch batch = random_token_sequence(rng, T, 61);
        for (int64_t t = 0; t < T; t++)  // a label on 3 tokens of 4
            batch.labels.data<int32_t>()[t] = t % 4 == 3 ? -100 : static_cast<int32_t>(rng() % 61);
        const std::string run = root + "/" + name;
        const nlohmann::json meta{{"seed", (seed + batches.size()) % 1000003}, {"weight_std", 0.08}, {"config", config}};
        write_reference_folder(run + "/in", meta.dump(), {{"input_ids", batch.input_ids}, {"labels", batch.labels}});
        arguments += " " + run + "/hf " + run + "/in " + run + "/out";
        batches.emplace(name, batch);
    }
    run_python_reference("hf_family_reference.py", arguments);
    for (const auto& [name, config] : family_configs()) {
        SCOPED_TRACE(fmt::format("{} seed {}", name, seed));
        expect_matches_reference(name, config, root + "/" + name, batches.at(name));
    }
    fs::remove_all(root);
}

// base_model: org/name resolves to the snapshot refs/main names in the cache; a model not
// there is refused naming the folders searched and the download command.
TEST(HfHub, ResolvesHubIdsInTheLocalCache) {
    const std::string cache = make_temp_folder("ringlm_hf_hub_");
    const std::string repository = cache + "/models--some-org--Tiny-1.5B";
    fs::create_directories(repository + "/refs");
    fs::create_directories(repository + "/snapshots/0123abcd");
    fs::create_directories(repository + "/snapshots/ffff0000");  // another revision: not main
    std::ofstream(repository + "/refs/main") << "0123abcd";
    ModelConfig config = tiny_model_config(61, 64, true);
    config.qkv_bias = true;
    Llama original = make_llama(config);
    init_llama_weights(original, fresh_seed());
    save_hf_model(repository + "/snapshots/0123abcd", original, DType::f32);

    const char* saved = std::getenv("HF_HUB_CACHE");
    const std::string previous = saved ? saved : "";
    setenv("HF_HUB_CACHE", cache.c_str(), 1);
    EXPECT_EQ(resolve_base_model_path("some-org/Tiny-1.5B"), repository + "/snapshots/0123abcd");
    expect_same_bits(load_base_model("some-org/Tiny-1.5B"), original);
    EXPECT_EQ(resolve_base_model_path("data/stories260K/stories260K.bin"), "data/stories260K/stories260K.bin");
    try {
        load_base_model("some-org/Missing");
        ADD_FAILURE() << "a model not in the cache loaded";
    } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find(cache + "/models--some-org--Missing"), std::string::npos) << message;
        EXPECT_NE(message.find("huggingface-cli download some-org/Missing"), std::string::npos) << message;
    }
    if (saved) setenv("HF_HUB_CACHE", previous.c_str(), 1);
    else unsetenv("HF_HUB_CACHE");
    fs::remove_all(cache);
}

}  // namespace ringlm
