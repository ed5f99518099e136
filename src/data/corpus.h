// Several token files seen as one list of documents (the `datasets:` of a config), in the
// order given. Documents are read on demand by hyperslab; nothing else is held but offsets.
#pragma once

#include "data/batch.h"
#include "data/token_dataset.h"

#include <memory>
#include <string>
#include <vector>

namespace ringlm {

class Corpus {
public:
    // Opens every file and checks its metadata and (streaming) every token against the model's
    // vocabulary, so bad data is refused before any compute.
    Corpus(const std::vector<std::string>& paths, int64_t model_vocab_size);

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
