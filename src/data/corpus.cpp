#include "data/corpus.h"

namespace ringlm {

Corpus::Corpus(const std::vector<std::string>& paths, int64_t model_vocab_size, const TokenFileCheck& check_file) {
    for (const std::string& path : paths) {
        auto file = std::make_unique<TokenDataset>(path);
        if (check_file) check_file(files_.size(), *file);
        file->validate_tokens(model_vocab_size);
        const int index = static_cast<int>(files_.size());
        for (int64_t d = 0; d < file->num_documents(); d++) {
            lengths_.push_back(file->document_length(d));
            location_.emplace_back(index, d);
        }
        files_.push_back(std::move(file));
    }
}

int64_t Corpus::total_tokens() const {
    int64_t total = 0;
    for (int64_t length : lengths_) total += length;
    return total;
}

DocumentTokens Corpus::read(int64_t document) const {
    const auto [file, local] = location_.at(static_cast<size_t>(document));
    Document d = files_[file]->read_document(local);
    return DocumentTokens{std::move(d.input_ids), d.labels ? std::move(*d.labels) : std::vector<int32_t>{}};
}

DocumentReader Corpus::reader() const {
    return [this](int64_t document) { return read(document); };
}

}  // namespace ringlm
