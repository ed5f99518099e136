// Training checkpoints: one HDF5 file per checkpoint, output_dir/checkpoint-<step>.h5.
//   /model/<name>        f32, each parameter by its model_config.h name and shape
//   /optimizer/m, /v     f32 [n_parameters], AdamW's moments in the parameter buffer's layout
//   attributes           step, optimizer_step, model shape (dim, n_layers, ...), config (YAML)
// The sampler is a pure function of (seed, step) and the model has no dropout, so step and
// seed are the whole of the data and RNG state: resuming reproduces the uninterrupted run.
// Written to a temporary name, fsync'd, then renamed: a crash never leaves a torn checkpoint.
#pragma once

#include "model/llama.h"
#include "train/optimizer.h"

#include <optional>
#include <string>

namespace ringlm {

struct CheckpointState {
    int64_t step = 0;  // optimizer steps completed
};

std::string checkpoint_path(const std::string& output_dir, int64_t step);
void save_checkpoint(const std::string& path, const Llama& model, const AdamW& optimizer, const CheckpointState& state,
                     const std::string& config_yaml);
// The training loops' save, called by every rank: rank 0 writes output_dir's checkpoint of
// `steps_done` (the weights are the same on every rank), every rank waits until it exists,
// then rank 0 prints its path. Returns the path.
std::string save_run_checkpoint(const std::string& output_dir, const Llama& model, const AdamW& optimizer,
                                int64_t steps_done, const std::string& config_yaml);
// The model's shape as stored in a checkpoint (to build the model before loading into it).
ModelConfig read_checkpoint_model_config(const std::string& path);
// Loads weights (and, when `optimizer` is given, its moments and step) into an existing model.
CheckpointState load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer);
// The checkpoint with the highest step in output_dir; nullopt if none.
std::optional<std::string> latest_checkpoint(const std::string& output_dir);

}  // namespace ringlm
