// Several token files seen as one list of documents (the `datasets:` of a config), in the
// order given. Documents are read on demand by hyperslab; nothing else is held but offsets.
#pragma once

#include "data/batch.h"
#include "data/token_dataset.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ringlm {

// What the caller checks of file `index` (of `paths`) once its metadata is read and before its
// tokens are scanned: e.g. its attributes against the model and the configured tokenizer.
using TokenFileCheck = std::function<void(size_t index, const TokenDataset& file)>;

class Corpus {
public:
    // Opens every file and checks its metadata, `check_file` when given, and (streaming) every
    // token against the model's vocabulary, so bad data is refused before any compute.
    Corpus(const std::vector<std::string>& paths, int64_t model_vocab_size, const TokenFileCheck& check_file = {});

    int64_t num_documents() const { return static_cast<int64_t>(lengths_.size()); }
    const std::vector<int64_t>& document_lengths() const { return lengths_; }
    int64_t total_tokens() const;
    DocumentTokens read(int64_t document) const;
    DocumentReader reader() const;

private:
    std::vector<std::unique_ptr<TokenDataset>> files_;
    std::vector<int64_t> lengths_;
    std::vector<std::pair<int, int64_t>> location_;  // document -> (file, document in file)
};

}  // namespace ringlm
