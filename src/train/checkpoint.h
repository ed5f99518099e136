// Training checkpoints: one HDF5 file per checkpoint, output_dir/checkpoint-<step>.h5.
//   /model/<name>        f32, each parameter by its model_config.h name and shape
//   /optimizer/m, /v     f32 [n_parameters], AdamW's moments in the parameter buffer's layout
//   attributes           step, optimizer_step, model shape (dim, n_layers, ...), config (YAML)
// The sampler is a pure function of (seed, step) and the model has no dropout, so step and
// seed are the whole of the data and RNG state: resuming reproduces the uninterrupted run.
// Written to a temporary name, fsync'd, then renamed: a crash never leaves a torn checkpoint.
// A failed save (a full disk) removes the temporary and leaves earlier checkpoints as they were.
// Every dataset and the root attributes carry CRC-32C checksums (model/model_file.h), verified
// on every load; resume picks the newest checkpoint that verifies.
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
// then rank 0 prints its path, removes the temporaries of saves a kill cut short, and, when
// save_total_limit > 0, prunes output_dir to that many checkpoints (prune_checkpoints).
// Returns the path.
std::string save_run_checkpoint(const std::string& output_dir, const Llama& model, const AdamW& optimizer,
                                int64_t steps_done, const std::string& config_yaml, int64_t save_total_limit);
// The model's shape as stored in a checkpoint (to build the model before loading into it).
ModelConfig read_checkpoint_model_config(const std::string& path);
// Loads weights (and, when `optimizer` is given, its moments and step) into an existing model,
// verifying each tensor's checksum as it is read. A checkpoint without checksums (written
// before they existed) loads with a one-line note.
CheckpointState load_checkpoint(const std::string& path, Llama& model, AdamW* optimizer);
// Reads the whole checkpoint and verifies every checksum; fails with one line naming the file
// and the tensor or attribute that does not match (or saying the file is truncated or not a
// checkpoint). Returns false for a checkpoint without checksums (nothing to verify).
bool verify_checkpoint(const std::string& path);
// The checkpoint with the highest step in output_dir that verifies; nullopt if there are none.
// Each newer one that fails is skipped with a printed warning naming it and why; if none
// verifies, fails naming output_dir. Collective when MPI is running: rank 0 reads and decides,
// every rank gets its answer (so all ranks resume from the same file).
std::optional<std::string> latest_checkpoint(const std::string& output_dir);
// Keeps the newest `keep` checkpoints of output_dir and deletes older ones, except that the
// newest checkpoint that verifies is never deleted (kept beyond `keep` when the newer ones
// fail). keep <= 0 keeps everything. Called by one rank.
void prune_checkpoints(const std::string& output_dir, int64_t keep);

}  // namespace ringlm
