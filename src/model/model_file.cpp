#include "model/model_file.h"

#include <fstream>

namespace ringlm {

namespace {

const std::vector<std::pair<const char*, int64_t ModelConfig::*>> shape_attributes{
    {"dim", &ModelConfig::dim},         {"n_layers", &ModelConfig::n_layers},
    {"n_heads", &ModelConfig::n_heads}, {"n_kv_heads", &ModelConfig::n_kv_heads},
    {"ffn_dim", &ModelConfig::ffn_dim}, {"vocab_size", &ModelConfig::vocab_size},
    {"max_position", &ModelConfig::max_position}};

}  // namespace

void write_float_dataset(const hdf5::File& file, const std::string& name, const Tensor& values) {
    Tensor host = values;
    if (values.device() != Device::cpu) {
        host = empty(values.shape(), DType::f32);
        backend(values).copy(host, values);
    }
    hdf5::write_dataset_raw(file, name, H5T_NATIVE_FLOAT, host.numel(), host.raw());
}

void read_float_dataset(const hdf5::File& file, const std::string& path, const std::string& name, Tensor& values) {
    hdf5::Dataset dataset = hdf5::open_dataset(file, name, "is this a ringlm checkpoint?");
    const hdf5::DatasetShape shape = hdf5::dataset_shape(dataset);
    if (shape.dims.size() != 1 || static_cast<int64_t>(shape.dims[0]) != values.numel())
        fail("{}: {} holds {} values, the model needs {} (a checkpoint of another model?)", path, name,
             shape.dims.empty() ? 0 : shape.dims[0], values.numel());
    Tensor host = values.device() == Device::cpu ? values : empty(values.shape(), DType::f32);
    hdf5::read_range_raw(dataset, H5T_NATIVE_FLOAT, 0, host.numel(), host.raw());
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
}

ModelConfig read_model_config(const hdf5::File& file, const std::string& path) {
    ModelConfig config;
    for (const auto& [name, field] : shape_attributes) {
        if (!hdf5::has_attribute(file, name))
            fail("{}: attribute '{}' is missing (is this a ringlm checkpoint?)", path, name);
        config.*field = hdf5::read_int64_attribute(file, name);
    }
    config.tied_embeddings = hdf5::read_int64_attribute(file, "tied_embeddings") != 0;
    config.rope_theta = std::stod(hdf5::read_string_attribute(file, "rope_theta"));
    config.norm_eps = std::stod(hdf5::read_string_attribute(file, "norm_eps"));
    return config;
}

void read_model_weights(const hdf5::File& file, const std::string& path, Llama& model) {
    for (NamedParameter& p : model.named) read_float_dataset(file, path, "/model/" + p.name, p.value);
    update_bf16_weights(model);
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
