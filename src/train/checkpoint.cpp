#include "train/checkpoint.h"

#include "data/hdf5_handle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>

namespace ringlm {

namespace {

void write_floats(const hdf5::File& file, const std::string& name, const Tensor& values) {
    Tensor host = values;
    if (values.device() != Device::cpu) {
        host = empty(values.shape(), DType::f32);
        backend(values).copy(host, values);
    }
    hdf5::write_dataset_raw(file, name, H5T_NATIVE_FLOAT, host.numel(), host.raw());
}

void read_floats(const hdf5::File& file, const std::string& name, Tensor& values, const std::string& path) {
    hdf5::Dataset dataset = hdf5::open_dataset(file, name, "is this a ringlm checkpoint?");
    const hdf5::DatasetShape shape = hdf5::dataset_shape(dataset);
    if (shape.dims.size() != 1 || static_cast<int64_t>(shape.dims[0]) != values.numel())
        fail("{}: {} holds {} values, the model needs {} (a checkpoint of another model?)", path, name,
             shape.dims.empty() ? 0 : shape.dims[0], values.numel());
    Tensor host = values.device() == Device::cpu ? values : empty(values.shape(), DType::f32);
    hdf5::read_range_raw(dataset, H5T_NATIVE_FLOAT, 0, host.numel(), host.raw());
    if (values.device() != Device::cpu) backend(values).copy(values, host);
}

const std::vector<std::pair<const char*, int64_t ModelConfig::*>> shape_attributes{
    {"dim", &ModelConfig::dim},         {"n_layers", &ModelConfig::n_layers},
    {"n_heads", &ModelConfig::n_heads}, {"n_kv_heads", &ModelConfig::n_kv_heads},
    {"ffn_dim", &ModelConfig::ffn_dim}, {"vocab_size", &ModelConfig::vocab_size},
    {"max_position", &ModelConfig::max_position}};

void fsync_path(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) fail("{}: cannot open to fsync", path);
    const int status = ::fsync(fd);
    ::close(fd);
    if (status != 0) fail("{}: fsync failed", path);
}

}  // namespace

std::string checkpoint_path(const std::string& output_dir, int64_t step) {
    return (std::filesystem::path(output_dir) / fmt::format("checkpoint-{:07d}.h5", step)).string();
}

void save_checkpoint(const std::string& path, const Llama& model, const AdamW& optimizer, const CheckpointState& state,
                     const std::string& config_yaml) {
    const std::string temporary = path + ".tmp";
    {
        hdf5::File file = hdf5::create_file(temporary);
        hdf5::check(H5Gclose(hdf5::check(H5Gcreate2(file.id(), "/model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         temporary, "create /model")),
                    temporary, "close /model");
        hdf5::check(H5Gclose(hdf5::check(H5Gcreate2(file.id(), "/optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         temporary, "create /optimizer")),
                    temporary, "close /optimizer");
        for (const NamedParameter& p : model.named) write_floats(file, "/model/" + p.name, p.value);
        write_floats(file, "/optimizer/m", optimizer.m);
        write_floats(file, "/optimizer/v", optimizer.v);
        hdf5::write_int64_attribute(file, "step", state.step);
        hdf5::write_int64_attribute(file, "optimizer_step", optimizer.step);
        for (const auto& [name, field] : shape_attributes) hdf5::write_int64_attribute(file, name, model.config.*field);
        hdf5::write_int64_attribute(file, "tied_embeddings", model.config.tied_embeddings ? 1 : 0);
        hdf5::write_string_attribute(file, "rope_theta", fmt::format("{}", model.config.rope_theta));
        hdf5::write_string_attribute(file, "norm_eps", fmt::format("{}", model.config.norm_eps));
        hdf5::write_string_attribute(file, "config", config_yaml);
        hdf5::check(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), temporary, "flush");
    }
    fsync_path(temporary);
    if (std::rename(temporary.c_str(), path.c_str()) != 0) fail("{}: cannot rename to {}", temporary, path);
    fsync_path(std::filesystem::path(path).parent_path().string());  // the rename itself
}

ModelConfig read_checkpoint_model_config(const std::string& path) {
    hdf5::File file = hdf5::open_file_readonly(path);
    ModelConfig config;
    for (const auto& [name, field] : shape_attributes) {
        if (!hdf5::has_attribute(file, name)) fail("{}: attribute '{}' is missing (is this a ringlm checkpoint?)", path, name);
        config.*field = hdf5::read_int64_attribute(file, name);
    }
    config.tied_embeddings = hdf5::read_int64_attribute(file, "tied_embeddings") != 0;
    config.rope_theta = std::stod(hdf5::read_string_attribute(file, "rope_theta"));
    config.norm_eps = std::stod(hdf5::read_string_attribute(file, "norm_eps"));
    return config;
}

CheckpointState load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer) {
    hdf5::File file = hdf5::open_file_readonly(path);
    for (NamedParameter& p : model.named) read_floats(file, "/model/" + p.name, p.value, path);
    CheckpointState state;
    state.step = hdf5::read_int64_attribute(file, "step");
    if (optimizer) {
        read_floats(file, "/optimizer/m", optimizer->m, path);
        read_floats(file, "/optimizer/v", optimizer->v, path);
        optimizer->step = hdf5::read_int64_attribute(file, "optimizer_step");
    }
    return state;
}

std::optional<std::string> latest_checkpoint(const std::string& output_dir) {
    if (!std::filesystem::is_directory(output_dir)) return std::nullopt;
    static const std::regex pattern(R"(checkpoint-(\d+)\.h5)");
    std::optional<std::string> best;
    int64_t best_step = -1;
    for (const auto& entry : std::filesystem::directory_iterator(output_dir)) {
        std::smatch match;
        const std::string name = entry.path().filename().string();
        if (std::regex_match(name, match, pattern) && std::stoll(match[1]) > best_step) {
            best_step = std::stoll(match[1]);
            best = entry.path().string();
        }
    }
    return best;
}

}  // namespace ringlm
