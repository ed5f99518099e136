// Typed datasets (dataset_format.h) prepared into a cache folder, axolotl's
// `dataset_prepared_path`: the token file is named by a key over everything it depends on —
// the inputs' bytes, the tokenizer (its sha256, or its name for "bytes"), the type and its
// options with the chat template resolved, and the version of this preparation — so a changed
// input, tokenizer or option prepares anew and an unchanged one is reused.
#pragma once

#include "data/prepare.h"

#include <string>
#include <vector>

namespace ringlm {

struct PreparedDataset {
    std::string path;     // the token file in the cache folder
    bool reused = false;  // it was there already
};

// The cache key (hex SHA-256) of `inputs` prepared with `encoder` and `options`.
std::string prepared_dataset_key(const std::vector<std::string>& inputs, const TextEncoder& encoder,
                                 const PrepareOptions& options);

// The token file of `inputs` in `prepared_dir`, prepared there (atomically) unless it is there
// already. `options.verbose` prints prepare's progress and summary.
PreparedDataset prepare_into_cache(const std::vector<std::string>& inputs, const std::string& prepared_dir,
                                   const TextEncoder& encoder, PrepareOptions options);

}  // namespace ringlm
