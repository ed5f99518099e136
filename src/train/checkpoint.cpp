#include "train/checkpoint.h"

#include "model/model_file.h"
#include "parallel/communicators.h"
#include "util/atomic_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>

namespace ringlm {

namespace {

// Rank 0 of the world, or the only process when MPI is not running (tests, tools).
bool is_rank_zero() { return process_rank() == 0; }

// "no space left on device" or "disk quota exceeded" when that is why a write failed, else
// empty. HDF5 reports a failed write with the C library's text for errno.
std::string disk_full_reason(const std::string& message) {
    for (const int code : {ENOSPC, EDQUOT})
        if (errno == code || message.find(std::strerror(code)) != std::string::npos) {
            std::string reason = std::strerror(code);
            reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
            return reason;
        }
    return "";
}

struct CheckpointFile {
    int64_t step = 0;
    std::string path;
};

// output_dir's checkpoint-<step>.h5 files, newest first.
std::vector<CheckpointFile> list_checkpoints(const std::string& output_dir) {
    std::vector<CheckpointFile> files;
    if (!std::filesystem::is_directory(output_dir)) return files;
    static const std::regex pattern(R"(checkpoint-(\d+)\.h5)");
    for (const auto& entry : std::filesystem::directory_iterator(output_dir)) {
        std::smatch match;
        const std::string name = entry.path().filename().string();
        if (std::regex_match(name, match, pattern)) files.push_back({std::stoll(match[1]), entry.path().string()});
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.step > b.step; });
    return files;
}

// The index in `files` of the newest that verifies (files.size() if none); why each newer one
// failed goes to `failures`.
size_t newest_verified(const std::vector<CheckpointFile>& files, std::vector<std::string>& failures) {
    for (size_t i = 0; i < files.size(); i++) {
        try {
            verify_checkpoint(files[i].path);
            return i;
        } catch (const Error& error) {
            failures.push_back(error.what());
        }
    }
    return files.size();
}

// checkpoint-*.h5.tmp files: saves cut short by a kill. Called after a save succeeded, when
// no save is in progress (rank 0 is the only writer).
void remove_stale_temporaries(const std::string& output_dir) {
    static const std::regex pattern(R"(checkpoint-\d+\.h5\.tmp)");
    for (const auto& entry : std::filesystem::directory_iterator(output_dir)) {
        if (!std::regex_match(entry.path().filename().string(), pattern)) continue;
        std::error_code error;
        std::filesystem::remove(entry.path(), error);
        if (error) fmt::print("warning: cannot remove {}: {}\n", entry.path().string(), error.message());
    }
}

}  // namespace

std::string checkpoint_path(const std::string& output_dir, int64_t step) {
    return (std::filesystem::path(output_dir) / fmt::format("checkpoint-{:07d}.h5", step)).string();
}

void save_checkpoint(const std::string& path, const Llama& model, const AdamW& optimizer, const CheckpointState& state,
                     const std::string& config_yaml) {
    const std::string temporary = path + ".tmp";
    errno = 0;
    try {
        {
            hdf5::File file = hdf5::create_file(temporary);
            hdf5::check(H5Gclose(hdf5::check(H5Gcreate2(file.id(), "/optimizer", H5P_DEFAULT, H5P_DEFAULT,
                                                        H5P_DEFAULT), temporary, "create /optimizer")),
                        temporary, "close /optimizer");
            write_model(file, temporary, model);
            write_float_dataset(file, "/optimizer/m", optimizer.m);
            write_float_dataset(file, "/optimizer/v", optimizer.v);
            hdf5::write_int64_attribute(file, "step", state.step);
            hdf5::write_int64_attribute(file, "optimizer_step", optimizer.step);
            hdf5::write_string_attribute(file, "config", config_yaml);
            write_attributes_checksum(file);
            hdf5::check(H5Fflush(file.id(), H5F_SCOPE_GLOBAL), temporary, "flush");
            hdf5::check(file.close(), temporary, "close");
        }
        commit_file(temporary, path);
    } catch (const Error& error) {
        const std::string disk_full = disk_full_reason(error.what());
        std::remove(temporary.c_str());
        if (!disk_full.empty())
            fail("{}: {} while saving the checkpoint (the partial {} is removed, earlier checkpoints are intact; "
                 "free space, then resume_from_checkpoint: auto)",
                 path, disk_full, std::filesystem::path(temporary).filename().string());
        throw;
    }
}

std::string save_run_checkpoint(const std::string& output_dir, const Llama& model, const AdamW& optimizer,
                                int64_t steps_done, const std::string& config_yaml, int64_t save_total_limit) {
    const bool rank_zero = is_rank_zero();
    const std::string path = checkpoint_path(output_dir, steps_done);
    if (rank_zero) save_checkpoint(path, model, optimizer, CheckpointState{steps_done}, config_yaml);
    world_communicator().barrier();
    if (rank_zero) {
        fmt::print("checkpoint: {}\n", path);
        remove_stale_temporaries(output_dir);
        prune_checkpoints(output_dir, save_total_limit);
        std::fflush(stdout);
    }
    return path;
}

ModelConfig read_checkpoint_model_config(const std::string& path) {
    return read_model_config(open_model_file(path), path);
}

CheckpointState load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer) {
    hdf5::File file = open_model_file(path);
    if (!verify_attributes_checksum(file, path) && is_rank_zero()) {
        fmt::print("note: {} has no checksums (written before ringlm stored them): loaded unverified\n", path);
        std::fflush(stdout);
    }
    read_model_weights(file, path, model);  // each tensor verified as it is read
    CheckpointState state;
    state.step = hdf5::read_int64_attribute(file, "step");
    if (optimizer) {
        read_float_dataset(file, path, "/optimizer/m", optimizer->m);
        read_float_dataset(file, path, "/optimizer/v", optimizer->v);
        optimizer->step = hdf5::read_int64_attribute(file, "optimizer_step");
    }
    return state;
}

bool verify_checkpoint(const std::string& path) {
    hdf5::File file = open_model_file(path);
    for (const char* name : {"step", "optimizer_step", "config"})
        if (!hdf5::has_attribute(file, name)) fail("{}: attribute '{}' is missing: not a ringlm checkpoint", path, name);
    const bool checksummed = verify_file_checksums(file, path);
    // Every tensor a load needs is there (damage can lose a dataset, checksum and all).
    std::vector<std::string> needed{"/optimizer/m", "/optimizer/v"};
    for (const ParameterSlot& slot : llama_parameter_slots(read_model_config(file, path)))
        needed.push_back("/model/" + slot.name);
    for (const std::string& name : needed)
        if (!hdf5::has_dataset(file, name)) fail("{}: {}: missing: not a whole checkpoint", path, name);
    return checksummed;
}

std::optional<std::string> latest_checkpoint(const std::string& output_dir) {
    std::string chosen, error;
    if (is_rank_zero()) {
        try {
            const std::vector<CheckpointFile> files = list_checkpoints(output_dir);
            std::vector<std::string> failures;
            const size_t newest = newest_verified(files, failures);
            if (newest < files.size()) {
                chosen = files[newest].path;
                for (const std::string& failure : failures)
                    fmt::print("warning: {}; skipped, using {}\n", failure, chosen);
                std::fflush(stdout);
            } else if (!files.empty()) {
                error = fmt::format("{}: none of its {} checkpoint(s) verifies, the newest: {} (move them aside to "
                                    "start over)", output_dir, files.size(), failures.front());
            }
        } catch (const std::exception& failure) {
            error = failure.what();
        }
    }
    if (Communicator* world = running_world()) {
        chosen = world->broadcast(chosen, 0);
        error = world->broadcast(error, 0);
    }
    if (!error.empty()) fail_uniform("{}", error);
    if (chosen.empty()) return std::nullopt;
    return chosen;
}

void prune_checkpoints(const std::string& output_dir, int64_t keep) {
    if (keep <= 0) return;
    const std::vector<CheckpointFile> files = list_checkpoints(output_dir);
    if (static_cast<int64_t>(files.size()) <= keep) return;
    std::vector<std::string> failures;
    const size_t newest_good = newest_verified(files, failures);
    for (size_t i = static_cast<size_t>(keep); i < files.size(); i++) {
        if (i == newest_good) {
            fmt::print("checkpoint: kept {} beyond save_total_limit {}: the newer ones do not verify\n",
                       files[i].path, keep);
            continue;
        }
        std::error_code error;
        if (!std::filesystem::remove(files[i].path, error) && error)
            fmt::print("warning: save_total_limit: cannot remove {}: {}\n", files[i].path, error.message());
    }
}

}  // namespace ringlm
