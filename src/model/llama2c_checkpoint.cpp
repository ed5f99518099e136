// llama2.c "legacy" checkpoint import. See llama2c_checkpoint.h and data/README.md.
#include "model/llama2c_checkpoint.h"

#include "util/atomic_file.h"
#include "util/error.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

namespace ringlm {

namespace {

struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
};

// llama2.c rotates the interleaved pairs (2i, 2i+1) of each head; ringlm (like Hugging Face)
// rotates the halves (i, i + D/2). Reordering each head's rows evens first, odds second makes
// the pairs line up, with the same frequency per pair. As convert_llama_weights_to_hf.py's
// permute: view [heads, D/2, 2, in] -> transpose to [heads, 2, D/2, in]:
//   halves row h*D + j*D/2 + i  <->  interleaved row h*D + 2i + j      (j in {0, 1}, i < D/2)
// Import reads interleaved rows into halves rows; export writes them back, the exact inverse.
Tensor permute_rope_rows(const Tensor& weight, int64_t heads, int64_t head_dim, bool to_halves) {
    const int64_t in = weight.cols(), half = head_dim / 2;
    Tensor permuted = empty_like(weight);
    const float* from = weight.data<float>();
    float* to = permuted.data<float>();
    for (int64_t h = 0; h < heads; h++)
        for (int64_t j = 0; j < 2; j++)
            for (int64_t i = 0; i < half; i++) {
                const int64_t halves_row = h * head_dim + j * half + i, interleaved_row = h * head_dim + 2 * i + j;
                const int64_t to_row = to_halves ? halves_row : interleaved_row;
                const int64_t from_row = to_halves ? interleaved_row : halves_row;
                std::memcpy(to + to_row * in, from + from_row * in, in * sizeof(float));
            }
    return permuted;
}

// What run.c and export.py assume without storing it: the legacy header has no field for them.
constexpr double llama2c_rope_theta = 10000.0;
constexpr double llama2c_norm_eps = 1e-5;

// The layer parameters llama2.c's file holds, in its order (layer_parameter_table's llama2c rows).
std::vector<const LayerParameterRow*> llama2c_rows() {
    std::vector<const LayerParameterRow*> rows;
    for (const LayerParameterRow& row : layer_parameter_table())
        if (row.llama2c) rows.push_back(&row);
    return rows;
}

}  // namespace

Llama2cCheckpoint load_llama2c_checkpoint(const std::string& path) {
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
    if (!file) fail("llama2.c checkpoint {}: cannot open: {}", path, std::strerror(errno));
    std::error_code size_error;
    const int64_t actual_bytes = static_cast<int64_t>(std::filesystem::file_size(path, size_error));
    if (size_error) fail("llama2.c checkpoint {}: cannot read its size: {}", path, size_error.message());
    return read_llama2c_checkpoint(file.get(), actual_bytes, path);
}

Llama2cCheckpoint read_llama2c_checkpoint(std::FILE* file, int64_t actual_bytes, const std::string& path) {
    // header: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
    int32_t header[7];
    if (std::fread(header, sizeof(int32_t), 7, file) != 7)
        fail("llama2.c checkpoint {}: {} bytes, too short for the 28-byte header", path, actual_bytes);
    const int64_t dim = header[0], hidden = header[1], L = header[2], n_heads = header[3], n_kv_heads = header[4];
    const int64_t seq_len = header[6];
    // a negative vocab_size means the classifier is stored separately after the RoPE tables
    const bool tied = header[5] > 0;
    const int64_t V = std::llabs(header[5]);
    auto header_text = [&] {
        return fmt::format("dim {}, hidden_dim {}, n_layers {}, n_heads {}, n_kv_heads {}, vocab_size {}, seq_len {}",
                           header[0], header[1], header[2], header[3], header[4], header[5], header[6]);
    };
    if (dim <= 0 || hidden <= 0 || L <= 0 || n_heads <= 0 || n_kv_heads <= 0 || V == 0 || seq_len <= 0)
        fail("llama2.c checkpoint {}: header has a value <= 0 ({}): not a llama2.c legacy checkpoint", path, header_text());
    ModelConfig config;
    config.dim = dim;
    config.ffn_dim = hidden;
    config.n_layers = L;
    config.n_heads = n_heads;
    config.n_kv_heads = n_kv_heads;
    config.vocab_size = V;
    config.max_position = seq_len;
    config.rope_theta = llama2c_rope_theta;
    config.norm_eps = llama2c_norm_eps;
    config.tied_embeddings = tied;
    if (!config.heads_fit())
        fail("llama2.c checkpoint {}: header {} needs dim divisible by n_heads into an even head size, "
             "and n_heads divisible by n_kv_heads", path, header_text());
    const int64_t head_dim = config.head_dim();

    // size = header + embedding + per layer (its llama2c rows) + final norm + two RoPE tables
    //        [seq_len, head_dim/2] + the classifier when untied. In double first: a damaged header
    //        must not overflow the count.
    double layer_floats = 0;
    for (const LayerParameterRow* row : llama2c_rows()) layer_floats += double(row->shape(config).numel());
    const double floats_estimate = double(V) * dim * (tied ? 1 : 2) + double(L) * layer_floats + dim +
                                   double(seq_len) * head_dim;
    if (floats_estimate > 1e13)
        fail("llama2.c checkpoint {}: header {} implies an impossible size ({:.3g} floats)", path, header_text(), floats_estimate);
    const int64_t rope_floats = seq_len * head_dim;  // two tables of seq_len * head_dim/2
    const int64_t floats = static_cast<int64_t>(floats_estimate);
    const int64_t expected_bytes = 28 + floats * int64_t(sizeof(float));
    if (actual_bytes != expected_bytes)
        fail("llama2.c checkpoint {}: {} bytes but its header ({}) implies {} bytes: {}", path, actual_bytes, header_text(),
             expected_bytes, actual_bytes < expected_bytes ? "truncated" : "trailing data or a different format");

    auto read_into = [&](const Tensor& tensor, const char* what) {
        if (std::fread(tensor.data<float>(), sizeof(float), tensor.numel(), file) != size_t(tensor.numel()))
            fail("llama2.c checkpoint {}: read of {} {} failed", path, what, tensor.shape());
    };
    // The file holds each weight for all layers at once ([L, ...]); read each layer's slice
    // into its own tensor.
    Tensor tok_embeddings = empty({V, dim});
    read_into(tok_embeddings, "token embedding");
    std::vector<LlamaLayer> layers(L);
    for (const LayerParameterRow* row : llama2c_rows())
        for (LlamaLayer& layer : layers) read_into(layer.*row->field = empty(row->shape(config)), row->name);
    Tensor norm = empty({dim});
    read_into(norm, "final norm");
    // ringlm computes RoPE itself: skip llama2.c's precomputed tables
    if (std::fseek(file, long(rope_floats * sizeof(float)), SEEK_CUR) != 0)
        fail("llama2.c checkpoint {}: seek past the RoPE tables failed", path);
    Tensor output;
    if (!tied) read_into(output = empty({V, dim}), "classifier");

    for (const LayerParameterRow* row : llama2c_rows())
        if (row->rope_heads)
            for (LlamaLayer& layer : layers)
                layer.*row->field = permute_rope_rows(layer.*row->field, row->rope_heads(config), head_dim, true);

    Llama2cCheckpoint checkpoint;
    checkpoint.config = config;
    auto& parameters = checkpoint.parameters;
    parameters.emplace_back("tok_embeddings", tok_embeddings);
    for (int64_t i = 0; i < L; i++)
        for (const LayerParameterRow* row : llama2c_rows())
            parameters.emplace_back(fmt::format("layers.{}.{}", i, row->name), layers[i].*row->field);
    parameters.emplace_back("norm", norm);
    if (!tied) parameters.emplace_back("output", output);
    return checkpoint;
}

int64_t save_llama2c_checkpoint(const std::string& path, const Llama& model) {
    const ModelConfig& c = model.config;
    if (model.parameters.device() != Device::cpu) fail("llama2.c export {}: the model must be on the host", path);
    if (c.rope_theta != llama2c_rope_theta || c.norm_eps != llama2c_norm_eps)
        fail("llama2.c export {}: the model has rope_theta {} and norm_eps {}, but the llama2.c format stores neither "
             "and run.c assumes {} and {}: export --format hf instead", path, c.rope_theta, c.norm_eps,
             llama2c_rope_theta, llama2c_norm_eps);
    if (c.qkv_bias || c.qk_norm || c.head_size > 0 || c.rope_scaling.type != "default")
        fail("llama2.c export {}: the model has {}, which the llama2.c format cannot hold: export --format hf instead",
             path, c.qkv_bias ? "q/k/v biases" : c.qk_norm ? "q/k norms" : c.head_size > 0 ? "an explicit head_dim"
                                                                                           : "rope_scaling");
    for (int64_t value : {c.dim, c.ffn_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.max_position})
        if (value > std::numeric_limits<int32_t>::max())
            fail("llama2.c export {}: {} does not fit the format's int32 header", path, value);
    const int64_t head_dim = c.head_dim(), seq_len = c.max_position;

    AtomicFile file(path);
    // header: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: a
    // separate classifier follows the RoPE tables), seq_len
    const int32_t header[7] = {int32_t(c.dim), int32_t(c.ffn_dim), int32_t(c.n_layers), int32_t(c.n_heads),
                               int32_t(c.n_kv_heads), int32_t(c.tied_embeddings ? c.vocab_size : -c.vocab_size),
                               int32_t(seq_len)};
    file.write(header, sizeof(header));
    auto write = [&](const Tensor& tensor) { file.write(tensor.data<float>(), tensor.bytes()); };
    // Each weight for all layers at once, in export.py's legacy_export order.
    write(model.tok_embeddings);
    for (const LayerParameterRow* row : llama2c_rows())
        for (const LlamaLayer& layer : model.layers)
            write(row->rope_heads ? permute_rope_rows(layer.*row->field, row->rope_heads(c), head_dim, false)
                                  : layer.*row->field);
    write(model.norm);
    // freq_cis as llama2.c's model.py computes it, in f32 (the importer and later run.c
    // versions skip it; early run.c read it):
    //   freq_i = 1 / theta^(2i / head_dim),  cos table [t, i] = cos(t * freq_i), then the sin table
    Tensor cos_table = empty({seq_len, head_dim / 2}), sin_table = empty({seq_len, head_dim / 2});
    for (int64_t i = 0; i < head_dim / 2; i++) {
        const float frequency = 1.0f / std::pow(float(llama2c_rope_theta), float(2 * i) / float(head_dim));
        for (int64_t t = 0; t < seq_len; t++) {
            const float angle = float(t) * frequency;
            cos_table.data<float>()[t * (head_dim / 2) + i] = std::cos(angle);
            sin_table.data<float>()[t * (head_dim / 2) + i] = std::sin(angle);
        }
    }
    write(cos_table);
    write(sin_table);
    if (!c.tied_embeddings) write(model.output);
    file.commit();
    return file.bytes_written();
}

}  // namespace ringlm
