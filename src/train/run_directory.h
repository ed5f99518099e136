// The run directory (output_dir): what a run may find there and what it leaves there.
//
// A run writes config.yaml, metrics.jsonl and checkpoint-NNNNNNN.h5 into output_dir. An
// earlier run's files are never overwritten silently:
//   - resume_from_checkpoint (a path or "auto") continues that run: metrics.jsonl keeps the
//     records up to the resumed step; records of steps after it (written by an attempt that
//     died before its next checkpoint) move to metrics.discarded.jsonl, so every step appears
//     once and the file reads as one uninterrupted run;
//   - overwrite_output_dir: true starts over: the earlier run's files move into
//     output_dir/overwritten-<UTC time>/ (moved aside, never deleted);
//   - neither: refused before any compute, naming the folder and both ways on.
#pragma once

#include "config/config.h"

#include <cstdint>
#include <optional>
#include <string>

namespace ringlm {

// Before any compute, on every rank alike (UniformError): output_dir is a folder or does not
// exist yet, and holds no other run unless the config says what to do with it. Returns the
// checkpoint to resume from (resume_from_checkpoint resolved; "auto" = the latest that
// verifies in output_dir, nullopt when it holds none).
std::optional<std::string> check_run_directory(const Config& config);

// Rank 0, once every input has been checked: creates output_dir, moves an overwritten run
// aside or trims metrics.jsonl to `resumed_step` (see above), and writes config.yaml. Every
// filesystem error names output_dir and the path.
void open_run_directory(const Config& config, std::optional<int64_t> resumed_step);

}  // namespace ringlm
