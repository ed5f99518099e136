#include "model/model_file.h"

#include "util/crc32c.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace ringlm {

namespace {

const std::vector<std::pair<const char*, int64_t ModelConfig::*>> shape_attributes{
    {"dim", &ModelConfig::dim},         {"n_layers", &ModelConfig::n_layers},
    {"n_heads", &ModelConfig::n_heads}, {"n_kv_heads", &ModelConfig::n_kv_heads},
    {"ffn_dim", &ModelConfig::ffn_dim}, {"vocab_size", &ModelConfig::vocab_size},
    {"max_position", &ModelConfig::max_position}};

const char* const checksum_attribute = "crc32c";

void check_crc(const std::string& path, const std::string& name, uint32_t stored, uint32_t computed) {
    if (stored != computed)
        fail("{}: {}: checksum mismatch (crc32c stored {:08x}, computed {:08x}): the file is corrupt", path, name,
             stored, computed);
}

// A dataset's stored checksum; nullopt when the file predates checksums. A checksummed file
// whose dataset lacks one has been tampered with or torn.
std::optional<uint32_t> stored_crc(const hdf5::File& file, const hdf5::Dataset& dataset, const std::string& path,
                                   const std::string& name) {
    if (hdf5::has_attribute(dataset, checksum_attribute))
        return static_cast<uint32_t>(hdf5::read_int64_attribute(dataset, checksum_attribute));
    if (hdf5::has_attribute(file, checksum_attribute)) fail("{}: {}: checksum missing: the file is corrupt", path, name);
    return std::nullopt;
}

}  // namespace

void write_float_dataset(const hdf5::File& file, const std::string& name, const Tensor& values) {
    Tensor host = values;
    if (values.device() != Device::cpu) {
        host = empty(values.shape(), DType::f32);
        backend(values).copy(host, values);
    }
    hdf5::write_dataset_raw(file, name, H5T_NATIVE_FLOAT, host.numel(), host.raw());
    const uint32_t crc = crc32c(host.raw(), static_cast<size_t>(host.numel()) * sizeof(float));
    hdf5::write_uint32_attribute(hdf5::open_dataset(file, name, "just written"), checksum_attribute, crc);
}

void read_float_dataset(const hdf5::File& file, const std::string& path, const std::string& name, Tensor& values) {
    hdf5::Dataset dataset = hdf5::open_dataset(file, name, "is this a ringlm checkpoint?");
    const hdf5::DatasetShape shape = hdf5::dataset_shape(dataset);
    if (shape.dims.size() != 1 || static_cast<int64_t>(shape.dims[0]) != values.numel())
        fail("{}: {} holds {} values, the model needs {} (a checkpoint of another model?)", path, name,
             shape.dims.empty() ? 0 : shape.dims[0], values.numel());
    Tensor host = values.device() == Device::cpu ? values : empty(values.shape(), DType::f32);
    hdf5::read_range_raw(dataset, H5T_NATIVE_FLOAT, 0, host.numel(), host.raw());
    if (const std::optional<uint32_t> stored = stored_crc(file, dataset, path, name))
        check_crc(path, name, *stored, crc32c(host.raw(), static_cast<size_t>(host.numel()) * sizeof(float)));
    if (values.device() != Device::cpu) backend(values).copy(values, host);
}

void write_model(const hdf5::File& file, const std::string& path, const Llama& model) {
    hdf5::check(H5Gclose(hdf5::check(H5Gcreate2(file.id(), "/model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), path,
                                     "create /model")),
                path, "close /model");
    for (const NamedParameter& p : model.named) write_float_dataset(file, "/model/" + p.name, p.value);
    for (const auto& [name, field] : shape_attributes) hdf5::write_int64_attribute(file, name, model.config.*field);
    hdf5::write_int64_attribute(file, "tied_embeddings", model.config.tied_embeddings ? 1 : 0);
    // Written as text so the value survives exactly (fmt prints the shortest round-trip form).
    hdf5::write_string_attribute(file, "rope_theta", fmt::format("{}", model.config.rope_theta));
    hdf5::write_string_attribute(file, "norm_eps", fmt::format("{}", model.config.norm_eps));
    // the family's extras (absent from checkpoints of plain Llama models, which read as 0)
    const ModelConfig& c = model.config;
    if (c.head_size > 0) hdf5::write_int64_attribute(file, "head_dim", c.head_size);
    if (c.qkv_bias) hdf5::write_int64_attribute(file, "qkv_bias", 1);
    if (c.qk_norm) hdf5::write_int64_attribute(file, "qk_norm", 1);
    const RopeScaling& r = c.rope_scaling;
    if (r.type != "default")
        hdf5::write_string_attribute(file, "rope_scaling",
                                     fmt::format("{} {} {} {} {} {} {} {}", r.type, r.factor, r.low_freq_factor,
                                                 r.high_freq_factor, r.original_max_position, r.beta_fast,
                                                 r.beta_slow, r.attention_factor));
}

ModelConfig read_model_config(const hdf5::File& file, const std::string& path) {
    verify_attributes_checksum(file, path);
    ModelConfig config;
    for (const auto& [name, field] : shape_attributes) {
        if (!hdf5::has_attribute(file, name))
            fail("{}: attribute '{}' is missing (is this a ringlm checkpoint?)", path, name);
        config.*field = hdf5::read_int64_attribute(file, name);
    }
    config.tied_embeddings = hdf5::read_int64_attribute(file, "tied_embeddings") != 0;
    config.rope_theta = std::stod(hdf5::read_string_attribute(file, "rope_theta"));
    config.norm_eps = std::stod(hdf5::read_string_attribute(file, "norm_eps"));
    if (hdf5::has_attribute(file, "head_dim")) config.head_size = hdf5::read_int64_attribute(file, "head_dim");
    config.qkv_bias = hdf5::has_attribute(file, "qkv_bias") && hdf5::read_int64_attribute(file, "qkv_bias") != 0;
    config.qk_norm = hdf5::has_attribute(file, "qk_norm") && hdf5::read_int64_attribute(file, "qk_norm") != 0;
    if (hdf5::has_attribute(file, "rope_scaling")) {
        // "type factor low_freq_factor high_freq_factor original_max_position beta_fast beta_slow attention_factor"
        std::istringstream in(hdf5::read_string_attribute(file, "rope_scaling"));
        RopeScaling& r = config.rope_scaling;
        if (!(in >> r.type >> r.factor >> r.low_freq_factor >> r.high_freq_factor >> r.original_max_position >>
              r.beta_fast >> r.beta_slow >> r.attention_factor))
            fail("{}: attribute rope_scaling '{}' is not 'type factor low high original beta_fast beta_slow "
                 "attention_factor'",
                 path, hdf5::read_string_attribute(file, "rope_scaling"));
    }
    if (!config.heads_fit())
        fail("{}: attributes dim {} / n_heads {} / n_kv_heads {} / head_dim {} do not give an even head size shared "
             "by the KV groups",
             path, config.dim, config.n_heads, config.n_kv_heads, config.head_size);
    return config;
}

void read_model_weights(const hdf5::File& file, const std::string& path, Llama& model) {
    for (NamedParameter& p : model.named) read_float_dataset(file, path, "/model/" + p.name, p.value);
    update_bf16_weights(model);
}

uint32_t attributes_checksum(const hdf5::File& file) {
    std::string text;
    for (const std::string& name : hdf5::attribute_names(file)) {
        if (name == checksum_attribute) continue;
        const std::string value = hdf5::is_integer_attribute(file, name)
                                      ? std::to_string(hdf5::read_int64_attribute(file, name))
                                      : hdf5::read_string_attribute(file, name);
        text += name + '\0' + value + '\0';
    }
    return crc32c(text.data(), text.size());
}

void write_attributes_checksum(const hdf5::File& file) {
    hdf5::write_uint32_attribute(file, checksum_attribute, attributes_checksum(file));
}

bool verify_attributes_checksum(const hdf5::File& file, const std::string& path) {
    if (!hdf5::has_attribute(file, checksum_attribute)) return false;
    check_crc(path, "root attributes (step, config, model shape)",
              static_cast<uint32_t>(hdf5::read_int64_attribute(file, checksum_attribute)), attributes_checksum(file));
    return true;
}

bool verify_file_checksums(const hdf5::File& file, const std::string& path) {
    if (!verify_attributes_checksum(file, path)) return false;
    constexpr int64_t piece = int64_t{1} << 22;  // 16 MiB of f32 at a time, however large the tensor
    std::vector<float> buffer;
    for (const std::string& link : hdf5::dataset_names(file)) {
        const std::string name = "/" + link;
        hdf5::Dataset dataset = hdf5::open_dataset(file, name, "listed a moment ago");
        const hdf5::DatasetShape shape = hdf5::dataset_shape(dataset);
        if (shape.dims.size() != 1 || shape.type_class != H5T_FLOAT || shape.type_bytes != sizeof(float))
            fail("{}: {}: expected a 1-D float32 dataset, found {} with {} dimension(s)", path, name,
                 hdf5::type_name(shape), shape.dims.size());
        const std::optional<uint32_t> stored = stored_crc(file, dataset, path, name);
        uint32_t crc = 0;
        const int64_t count = static_cast<int64_t>(shape.dims[0]);
        for (int64_t offset = 0; offset < count; offset += piece) {
            const int64_t n = std::min(piece, count - offset);
            buffer.resize(static_cast<size_t>(n));
            hdf5::read_range_raw(dataset, H5T_NATIVE_FLOAT, offset, n, buffer.data());
            crc = crc32c_extend(crc, buffer.data(), static_cast<size_t>(n) * sizeof(float));
        }
        check_crc(path, name, *stored, crc);
    }
    return true;
}

hdf5::File open_model_file(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) fail("{}: no such checkpoint file", path);
    if (!is_hdf5_file(path))
        fail("{}: truncated or corrupt checkpoint: no HDF5 signature at its start (or not a ringlm checkpoint)", path);
    try {
        return hdf5::open_file_readonly(path);
    } catch (const Error& failure) {
        std::string detail = failure.what();
        if (detail.starts_with(path + ": ")) detail.erase(0, path.size() + 2);
        fail("{}: truncated or corrupt checkpoint, HDF5 cannot open it ({})", path, detail);
    }
}

bool is_hdf5_file(const std::string& path) {
    // HDF5's signature at offset 0 (files ringlm writes have no user block).
    static const char signature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
    char head[8] = {};
    std::ifstream in(path, std::ios::binary);
    in.read(head, 8);
    return in.gcount() == 8 && std::equal(head, head + 8, signature);
}

}  // namespace ringlm
