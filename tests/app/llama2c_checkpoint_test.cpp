// The llama2.c checkpoint loader against the file read independently with plain freads, and
// its wq/wk permutation against llama2.c's interleaved RoPE; the exporter against the loader
// (bit-identical round trips) and against the original stories260K.bin, array by array.
#include "model/llama2c_checkpoint.h"

#include "test_data.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <map>

namespace ringlm {
namespace {

using testing::source_path;
using testing::TemporaryFile;

// The file as llama2.c's run.c sees it: the header, then named arrays at running offsets.
struct RawCheckpoint {
    int32_t dim, hidden, layers, heads, kv_heads, vocab, seq_len;
    std::map<std::string, std::vector<float>> arrays;  // "wq" -> [layers * dim * dim], ...
};

RawCheckpoint read_raw(const std::string& path) {
    RawCheckpoint raw;
    std::FILE* file = std::fopen(path.c_str(), "rb");
    EXPECT_NE(file, nullptr) << path;
    int32_t header[7];
    EXPECT_EQ(std::fread(header, 4, 7, file), 7u);
    raw.dim = header[0], raw.hidden = header[1], raw.layers = header[2], raw.heads = header[3];
    raw.kv_heads = header[4], raw.vocab = header[5], raw.seq_len = header[6];
    const int64_t dim = raw.dim, L = raw.layers, V = std::abs(raw.vocab), hidden = raw.hidden;
    const int64_t kv_dim = dim / raw.heads * raw.kv_heads, head_size = dim / raw.heads;
    auto read = [&](const std::string& name, int64_t count) {
        std::vector<float>& values = raw.arrays[name];
        values.resize(count);
        EXPECT_EQ(std::fread(values.data(), 4, count, file), size_t(count)) << name;
    };
    read("tok_embeddings", V * dim);
    read("attention_norm", L * dim);
    read("wq", L * dim * dim);
    read("wk", L * kv_dim * dim);
    read("wv", L * kv_dim * dim);
    read("wo", L * dim * dim);
    read("ffn_norm", L * dim);
    read("w1", L * hidden * dim);
    read("w2", L * dim * hidden);
    read("w3", L * hidden * dim);
    read("norm", dim);
    read("rope_tables", raw.seq_len * head_size);
    if (raw.vocab < 0) read("output", V * dim);
    char extra;
    EXPECT_EQ(std::fread(&extra, 1, 1, file), 0u) << "bytes left over in " << path;
    std::fclose(file);
    return raw;
}

// Layer `layer`'s slice of a stacked array of `per_layer` floats.
std::vector<float> layer_slice(const RawCheckpoint& raw, const std::string& name, int64_t layer) {
    const std::vector<float>& all = raw.arrays.at(name);
    const int64_t per_layer = int64_t(all.size()) / raw.layers;
    return std::vector<float>(all.begin() + layer * per_layer, all.begin() + (layer + 1) * per_layer);
}

std::map<std::string, Tensor> by_name(const Llama2cCheckpoint& checkpoint) {
    std::map<std::string, Tensor> parameters;
    for (const auto& [name, tensor] : checkpoint.parameters) parameters[name] = tensor;
    return parameters;
}

// Everything but wq and wk is copied unchanged: compare every element, names, shapes, order.
void expect_matches_raw(const Llama2cCheckpoint& checkpoint, const RawCheckpoint& raw) {
    const ModelConfig& config = checkpoint.config;
    const int64_t dim = config.dim, hidden = config.ffn_dim, kv_dim = config.kv_dim();
    std::vector<std::pair<std::string, Shape>> expected = {{"tok_embeddings", {config.vocab_size, dim}}};
    for (int64_t i = 0; i < config.n_layers; i++) {
        std::string p = "layers." + std::to_string(i) + ".";
        expected.insert(expected.end(), {{p + "attention_norm", {dim}}, {p + "attention.wq", {dim, dim}},
                                         {p + "attention.wk", {kv_dim, dim}}, {p + "attention.wv", {kv_dim, dim}},
                                         {p + "attention.wo", {dim, dim}}, {p + "ffn_norm", {dim}},
                                         {p + "feed_forward.w1", {hidden, dim}}, {p + "feed_forward.w2", {dim, hidden}},
                                         {p + "feed_forward.w3", {hidden, dim}}});
    }
    expected.push_back({"norm", {dim}});
    if (!config.tied_embeddings) expected.push_back({"output", {config.vocab_size, dim}});
    ASSERT_EQ(checkpoint.parameters.size(), expected.size());
    for (size_t i = 0; i < expected.size(); i++) {
        EXPECT_EQ(checkpoint.parameters[i].first, expected[i].first);
        EXPECT_EQ(checkpoint.parameters[i].second.shape(), expected[i].second) << expected[i].first;
        EXPECT_EQ(checkpoint.parameters[i].second.dtype(), DType::f32);
    }
    auto parameters = by_name(checkpoint);
    EXPECT_EQ(to_vector<float>(parameters.at("tok_embeddings")), raw.arrays.at("tok_embeddings"));
    EXPECT_EQ(to_vector<float>(parameters.at("norm")), raw.arrays.at("norm"));
    if (!config.tied_embeddings) {
        EXPECT_EQ(to_vector<float>(parameters.at("output")), raw.arrays.at("output"));
    }
    const std::vector<std::pair<std::string, std::string>> unchanged = {
        {"attention_norm", "attention_norm"}, {"wv", "attention.wv"}, {"wo", "attention.wo"}, {"ffn_norm", "ffn_norm"},
        {"w1", "feed_forward.w1"}, {"w2", "feed_forward.w2"}, {"w3", "feed_forward.w3"}};
    for (int64_t i = 0; i < config.n_layers; i++)
        for (const auto& [raw_name, name] : unchanged)
            EXPECT_EQ(to_vector<float>(parameters.at("layers." + std::to_string(i) + "." + name)), layer_slice(raw, raw_name, i))
                << name << " of layer " << i;
}

// y = W x for W [rows, cols] row-major, in f64.
std::vector<double> matvec(const std::vector<float>& weight, const std::vector<double>& x) {
    const size_t cols = x.size(), rows = weight.size() / cols;
    std::vector<double> y(rows, 0.0);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) y[r] += double(weight[r * cols + c]) * x[c];
    return y;
}

// llama2.c: pairs (2i, 2i+1) of each head rotate by position * 10000^(-2i/D)
void rope_interleaved(std::vector<double>& v, int64_t head_dim, int64_t position) {
    for (size_t head = 0; head < v.size() / head_dim; head++)
        for (int64_t i = 0; i < head_dim / 2; i++) {
            double angle = position * std::pow(10000.0, -2.0 * i / head_dim);
            double& a = v[head * head_dim + 2 * i];
            double& b = v[head * head_dim + 2 * i + 1];
            double a0 = a, b0 = b;
            a = a0 * std::cos(angle) - b0 * std::sin(angle);
            b = a0 * std::sin(angle) + b0 * std::cos(angle);
        }
}

// Hugging Face: pairs (i, i + D/2) of each head rotate by position * 10000^(-2i/D)
void rope_halves(std::vector<double>& v, int64_t head_dim, int64_t position) {
    for (size_t head = 0; head < v.size() / head_dim; head++)
        for (int64_t i = 0; i < head_dim / 2; i++) {
            double angle = position * std::pow(10000.0, -2.0 * i / head_dim);
            double& a = v[head * head_dim + i];
            double& b = v[head * head_dim + i + head_dim / 2];
            double a0 = a, b0 = b;
            a = a0 * std::cos(angle) - b0 * std::sin(angle);
            b = a0 * std::sin(angle) + b0 * std::cos(angle);
        }
}

// q.k per query head (against its KV head), q at one position and k at another.
std::vector<double> head_scores(std::vector<double> q, std::vector<double> k, int64_t head_dim, int64_t q_position,
                                int64_t k_position, bool interleaved) {
    if (interleaved) rope_interleaved(q, head_dim, q_position), rope_interleaved(k, head_dim, k_position);
    else rope_halves(q, head_dim, q_position), rope_halves(k, head_dim, k_position);
    const size_t n_heads = q.size() / head_dim, n_kv_heads = k.size() / head_dim;
    std::vector<double> scores(n_heads, 0.0);
    for (size_t h = 0; h < n_heads; h++) {
        size_t kv_head = h / (n_heads / n_kv_heads);
        for (int64_t d = 0; d < head_dim; d++) scores[h] += q[h * head_dim + d] * k[kv_head * head_dim + d];
    }
    return scores;
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

TEST(Llama2cCheckpoint, LoadsStories260K) {
    const std::string path = source_path("data/stories260K/stories260K.bin");
    Llama2cCheckpoint checkpoint = load_llama2c_checkpoint(path);
    const ModelConfig& config = checkpoint.config;
    EXPECT_EQ(config.dim, 64);
    EXPECT_EQ(config.ffn_dim, 172);
    EXPECT_EQ(config.n_layers, 5);
    EXPECT_EQ(config.n_heads, 8);
    EXPECT_EQ(config.n_kv_heads, 4);
    EXPECT_EQ(config.vocab_size, 512);
    EXPECT_EQ(config.max_position, 512);
    EXPECT_TRUE(config.tied_embeddings);
    EXPECT_EQ(config.rope_theta, 10000.0);
    EXPECT_EQ(config.norm_eps, 1e-5);
    expect_matches_raw(checkpoint, read_raw(path));
}

// The permuted wq, wk under rotate-halves RoPE give the attention scores llama2.c gets from the
// raw wq, wk under interleaved RoPE.
TEST(Llama2cCheckpoint, PermutationMatchesInterleavedRope) {
    const std::string path = source_path("data/stories260K/stories260K.bin");
    Llama2cCheckpoint checkpoint = load_llama2c_checkpoint(path);
    RawCheckpoint raw = read_raw(path);
    auto parameters = by_name(checkpoint);
    const int64_t head_dim = checkpoint.config.head_dim();
    uint64_t seed = testing::fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    std::uniform_int_distribution<int64_t> position(0, checkpoint.config.max_position - 1);
    for (int64_t layer = 0; layer < checkpoint.config.n_layers; layer++) {
        std::vector<double> x(checkpoint.config.dim);
        for (double& value : x) value = uniform(rng);
        const int64_t q_position = position(rng), k_position = position(rng);
        std::vector<float> wq_raw = layer_slice(raw, "wq", layer), wk_raw = layer_slice(raw, "wk", layer);
        std::string prefix = "layers." + std::to_string(layer) + ".attention.";
        std::vector<float> wq = to_vector<float>(parameters.at(prefix + "wq")), wk = to_vector<float>(parameters.at(prefix + "wk"));

        std::vector<double> expected = head_scores(matvec(wq_raw, x), matvec(wk_raw, x), head_dim, q_position, k_position, true);
        std::vector<double> actual = head_scores(matvec(wq, x), matvec(wk, x), head_dim, q_position, k_position, false);
        EXPECT_LE(max_difference(actual, expected), 1e-5)
            << "layer " << layer << ", positions " << q_position << " and " << k_position << ", seed " << seed;
        // the check can fail: without the permutation the scores differ
        if (q_position != k_position) {
            std::vector<double> unpermuted = head_scores(matvec(wq_raw, x), matvec(wk_raw, x), head_dim, q_position, k_position, false);
            EXPECT_GT(max_difference(unpermuted, expected), 1e-3) << "layer " << layer << ", seed " << seed;
        }
    }
}

// A small synthetic checkpoint with a separate classifier (negative vocab_size).
TEST(Llama2cCheckpoint, LoadsUntiedClassifier) {
    uint64_t seed = testing::fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const int32_t header[7] = {8, 12, 2, 2, 1, -10, 4};
    // floats: embedding, per layer (2*8 norms + 2*64 wq wo + 2*32 wk wv + 3*96 ffn), norm, rope, output
    const int64_t floats = 10 * 8 + 2 * (16 + 128 + 64 + 288) + 8 + 4 * 4 + 10 * 8;
    TemporaryFile file("untied.bin");
    std::FILE* out = std::fopen(file.path.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    std::fwrite(header, 4, 7, out);
    for (int64_t i = 0; i < floats; i++) {
        float value = uniform(rng);
        std::fwrite(&value, 4, 1, out);
    }
    std::fclose(out);
    Llama2cCheckpoint checkpoint = load_llama2c_checkpoint(file.path);
    EXPECT_FALSE(checkpoint.config.tied_embeddings);
    EXPECT_EQ(checkpoint.config.vocab_size, 10);
    EXPECT_EQ(checkpoint.config.n_kv_heads, 1);
    expect_matches_raw(checkpoint, read_raw(file.path));
}

void expect_error(const std::string& path, const std::vector<std::string>& parts) {
    try {
        load_llama2c_checkpoint(path);
        ADD_FAILURE() << "no error loading " << path;
    } catch (const Error& error) {
        for (const std::string& part : parts) EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
    }
}

TEST(Llama2cCheckpoint, BadFilesAreErrors) {
    const std::string path = source_path("data/stories260K/stories260K.bin");
    TemporaryFile copy("stories260K_bad.bin");
    std::filesystem::copy_file(path, copy.path, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(copy.path, 1056540 - 3);
    expect_error(copy.path, {copy.path, "1056537", "1056540", "truncated"});
    std::filesystem::resize_file(copy.path, 1056540 + 4);
    expect_error(copy.path, {copy.path, "1056544", "1056540"});
    std::filesystem::resize_file(copy.path, 10);
    expect_error(copy.path, {copy.path, "header"});

    auto with_header = [&](std::vector<int32_t> header) {
        std::FILE* out = std::fopen(copy.path.c_str(), "wb");
        std::fwrite(header.data(), 4, header.size(), out);
        std::fclose(out);
    };
    with_header({64, 172, 5, 8, 4, 512, 0});
    expect_error(copy.path, {copy.path, "<= 0", "seq_len 0"});
    with_header({64, 172, 5, 7, 7, 512, 512});
    expect_error(copy.path, {copy.path, "n_heads 7"});
    with_header({64, 172, 5, 8, 3, 512, 512});
    expect_error(copy.path, {copy.path, "n_kv_heads 3"});
    expect_error("no/such/checkpoint.bin", {"no/such/checkpoint.bin", "cannot open"});
}

// Every tensor, by name and in order, bit for bit (a value compare would let -0 pass for 0).
void expect_bit_identical(const std::vector<std::pair<std::string, Tensor>>& actual,
                          const std::vector<std::pair<std::string, Tensor>>& expected) {
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); i++) {
        EXPECT_EQ(actual[i].first, expected[i].first);
        ASSERT_EQ(actual[i].second.shape(), expected[i].second.shape()) << expected[i].first;
        EXPECT_EQ(std::memcmp(actual[i].second.raw(), expected[i].second.raw(), expected[i].second.bytes()), 0)
            << expected[i].first << " differs";
    }
}

std::vector<std::pair<std::string, Tensor>> parameters_of(const Llama& model) {
    std::vector<std::pair<std::string, Tensor>> parameters;
    for (const NamedParameter& p : model.named) parameters.emplace_back(p.name, p.value);
    return parameters;
}

// Import, export, import: the same weights bit for bit; and the exported file is the original:
// every weight array byte for byte (the export's halves -> interleaved permutation undoes the
// import's), the RoPE tables (which no loader reads) equal to f32 rounding.
TEST(Llama2cCheckpoint, ExportOfStories260KIsTheOriginal) {
    const std::string path = source_path("data/stories260K/stories260K.bin");
    const Llama2cCheckpoint original = load_llama2c_checkpoint(path);
    Llama model = make_llama(original.config);
    load_parameters(model, original.parameters, path);
    TemporaryFile exported("stories260K_export.bin");
    EXPECT_EQ(save_llama2c_checkpoint(exported.path, model), 1056540);
    const Llama2cCheckpoint reimported = load_llama2c_checkpoint(exported.path);
    EXPECT_EQ(reimported.config, original.config);
    expect_bit_identical(reimported.parameters, original.parameters);

    const RawCheckpoint raw = read_raw(path), raw_exported = read_raw(exported.path);
    EXPECT_EQ(std::vector<int32_t>({raw_exported.dim, raw_exported.hidden, raw_exported.layers, raw_exported.heads,
                                    raw_exported.kv_heads, raw_exported.vocab, raw_exported.seq_len}),
              std::vector<int32_t>({raw.dim, raw.hidden, raw.layers, raw.heads, raw.kv_heads, raw.vocab, raw.seq_len}));
    ASSERT_EQ(raw_exported.arrays.size(), raw.arrays.size());
    for (const auto& [name, values] : raw.arrays) {
        const std::vector<float>& exported_values = raw_exported.arrays.at(name);
        ASSERT_EQ(exported_values.size(), values.size()) << name;
        if (name == "rope_tables") {
            double worst = 0;
            for (size_t i = 0; i < values.size(); i++) worst = std::max(worst, double(std::abs(exported_values[i] - values[i])));
            EXPECT_LE(worst, 2e-7) << "RoPE tables";
        } else {
            EXPECT_EQ(std::memcmp(exported_values.data(), values.data(), values.size() * sizeof(float)), 0) << name;
        }
    }
}

// A fresh random model, tied and untied (negative vocab_size, classifier after the RoPE
// tables), with GQA: export then import gives its weights bit for bit.
TEST(Llama2cCheckpoint, ExportOfRandomModelRoundTrips) {
    for (bool tied : {true, false}) {
        const uint64_t seed = testing::fresh_seed();
        Llama model = make_llama(testing::tiny_model_config(61, 64, tied));
        init_llama_weights(model, seed);
        TemporaryFile exported(tied ? "tiny_tied.bin" : "tiny_untied.bin");
        save_llama2c_checkpoint(exported.path, model);
        const Llama2cCheckpoint reimported = load_llama2c_checkpoint(exported.path);
        EXPECT_EQ(reimported.config, model.config) << "tied " << tied;
        expect_bit_identical(reimported.parameters, parameters_of(model));
        EXPECT_EQ(read_raw(exported.path).vocab, tied ? 61 : -61);
        EXPECT_FALSE(std::filesystem::exists(exported.path + ".tmp"));
    }
}

// The format has no field for rope_theta or norm_eps and run.c assumes llama2.c's: refuse
// others rather than write a file that runs a different model.
TEST(Llama2cCheckpoint, ExportRefusesWhatTheFormatCannotHold) {
    ModelConfig config = testing::tiny_model_config(61, 64);
    config.rope_theta = 500000.0;
    Llama model = make_llama(config);
    TemporaryFile exported("tiny_theta.bin");
    try {
        save_llama2c_checkpoint(exported.path, model);
        ADD_FAILURE() << "exported a model with rope_theta 500000";
    } catch (const Error& error) {
        for (const char* part : {"rope_theta 500000", "--format hf"})
            EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
    }
    EXPECT_FALSE(std::filesystem::exists(exported.path));
}

}  // namespace
}  // namespace ringlm
