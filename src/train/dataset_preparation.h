// Typed datasets (`type: completion | alpaca | chat_template`) become token files before a run
// reads them: rank 0 prepares each into dataset_prepared_path, or reuses the file prepared
// earlier from the same inputs, tokenizer and options (data/prepared_dataset.h), and says which
// in one line; every rank then reads the token files. Untyped entries are token files already.
#pragma once

#include "config/config.h"
#include "data/prepare.h"

#include <string>
#include <vector>

namespace ringlm {

struct TokenFilePaths {
    std::vector<std::string> datasets, test_datasets;  // one per entry, in order
};

// Collective over the world (world_communicator) when the config has typed datasets: a
// failure on rank 0 (a bad record, a template the tokenizer lacks) stops every rank with its
// message.
TokenFilePaths token_file_paths(const Config& config, int64_t model_vocab_size, bool rank_zero);

// The prepare options of a typed entry, the chat template resolved against `tokenizer_spec`.
// `where` names the entry in messages ("x.yaml: datasets[0]").
PrepareOptions typed_prepare_options(const DatasetFormat& format, const std::string& tokenizer_spec,
                                     const std::string& where);

// Prepares (or reuses) every typed entry of the config on this rank, printing one line each:
//   datasets[0] data/chat.jsonl (chat_template, qwen3): prepared -> last_run_prepared/chat-1a2b3c4d5e6f7a8b.h5
// The `ringlm prepare --config` command and token_file_paths' rank 0 share it.
TokenFilePaths prepare_typed_datasets(const Config& config, int64_t model_vocab_size);

}  // namespace ringlm
