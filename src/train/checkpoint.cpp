#include "train/checkpoint.h"

#include "model/model_file.h"
#include "util/atomic_file.h"

#include <mpi.h>

#include <cstdio>
#include <filesystem>
#include <regex>

namespace ringlm {

std::string checkpoint_path(const std::string& output_dir, int64_t step) {
    return (std::filesystem::path(output_dir) / fmt::format("checkpoint-{:07d}.h5", step)).string();
}

void save_checkpoint(const std::string& path, const Llama& model, const AdamW& optimizer, const CheckpointState& state,
                     const std::string& config_yaml) {
    const std::string temporary = path + ".tmp";
    {
        hdf5::File file = hdf5::create_file(temporary);
        hdf5::check(H5Gclose(hdf5::check(H5Gcreate2(file.id(), "/optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                         temporary, "create /optimizer")),
                    temporary, "close /optimizer");
        write_model(file, temporary, model);
        write_float_dataset(file, "/optimizer/m", optimizer.m);
        write_float_dataset(file, "/optimizer/v", optimizer.v);
        hdf5::write_int64_attribute(file, "step", state.step);
        hdf5::write_int64_attribute(file, "optimizer_step", optimizer.step);
        hdf5::write_string_attribute(file, "config", config_yaml);
        hdf5::check(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), temporary, "flush");
    }
    commit_file(temporary, path);
}

std::string save_run_checkpoint(const std::string& output_dir, const Llama& model, const AdamW& optimizer,
                                int64_t steps_done, const std::string& config_yaml) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const std::string path = checkpoint_path(output_dir, steps_done);
    if (rank == 0) save_checkpoint(path, model, optimizer, CheckpointState{steps_done}, config_yaml);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        fmt::print("checkpoint: {}\n", path);
        std::fflush(stdout);
    }
    return path;
}

ModelConfig read_checkpoint_model_config(const std::string& path) {
    return read_model_config(hdf5::open_file_readonly(path), path);
}

CheckpointState load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer) {
    hdf5::File file = hdf5::open_file_readonly(path);
    read_model_weights(file, path, model);
    CheckpointState state;
    state.step = hdf5::read_int64_attribute(file, "step");
    if (optimizer) {
        read_float_dataset(file, path, "/optimizer/m", optimizer->m);
        read_float_dataset(file, path, "/optimizer/v", optimizer->v);
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
