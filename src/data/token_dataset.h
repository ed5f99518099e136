// The token file every training run reads (DESIGN.md "Data path" step 1):
//
//   /input_ids    int32 [n_tokens]      all documents, back to back
//   /doc_offsets  int64 [n_docs + 1]    document d is input_ids[doc_offsets[d] : doc_offsets[d+1]]
//   /labels       int32 [n_tokens]      optional; labels[t] = -100: token t carries no loss (a
//                                       prompt), otherwise the token id itself (the shift to
//                                       next-token targets happens later, on the packed row)
//   attributes on /: vocab_size (int64), tokenizer (string, optional when reading),
//                    tokenizer_sha256 (string: sha256sum of the tokenizer file; absent for
//                    "bytes" and in files written before ringlm stored it)
//
// TokenDataset checks the metadata when it opens (cheap: doc_offsets only), checks every token
// when asked (validate_tokens streams the file in 1M-element pieces), and reads documents by
// hyperslab: a rank reads only the documents of its batch, never the whole file. Any number
// of ranks may open the same file read-only at once.
#pragma once

#include "data/hdf5_handle.h"
#include "ops/id_range.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ringlm {

struct Document {
    std::vector<int32_t> input_ids;
    std::optional<std::vector<int32_t>> labels;  // absent: every token has loss
};

class TokenDataset {
public:
    // Opens read-only and validates the layout: datasets present, 1-D, right types;
    // doc_offsets start at 0, never decrease, end at len(input_ids); labels as long as
    // input_ids; vocab_size present and positive. Every failure names the file and the object.
    explicit TokenDataset(const std::string& path);

    // Every input id in [0, min(vocab_size(), model_vocab_size)), every label -100 or in that
    // range; the first offender is an Error naming the file, the dataset and the index.
    // Bounded memory: reads 1M elements at a time.
    void validate_tokens(int64_t model_vocab_size) const;

    const std::string& path() const { return path_; }
    int64_t num_documents() const { return static_cast<int64_t>(doc_offsets_.size()) - 1; }
    int64_t document_length(int64_t document) const;
    int64_t total_tokens() const { return doc_offsets_.back(); }
    int64_t vocab_size() const { return vocab_size_; }
    const std::string& tokenizer() const { return tokenizer_; }  // "" when the file has none
    const std::string& tokenizer_sha256() const { return tokenizer_sha256_; }  // "" when the file has none
    bool has_labels() const { return labels_.valid(); }
    const std::vector<int64_t>& doc_offsets() const { return doc_offsets_; }

    Document read_document(int64_t document) const;
    // In the order asked (repeats allowed); adjacent documents are read together.
    std::vector<Document> read_documents(std::span<const int64_t> documents) const;

private:
    void scan_range(const hdf5::Dataset& dataset, int64_t limit, bool allow_ignore_label,
                    const std::string& vocabulary) const;

    std::string path_;
    hdf5::File file_;
    hdf5::Dataset input_ids_;
    hdf5::Dataset labels_;  // invalid when the file has no /labels
    std::vector<int64_t> doc_offsets_;
    int64_t vocab_size_ = 0;
    std::string tokenizer_;
    std::string tokenizer_sha256_;
};

// Writes a token file document by document with bounded memory: tokens are buffered and
// appended to chunked datasets `chunk_elements` at a time; a file that never fills one chunk
// is written contiguous in one call per dataset at finish(). /labels appears as soon as one
// document has labels (documents before it get labels = input_ids: all tokens have loss).
// Until finish() returns the file is incomplete (no /doc_offsets): write to a temporary name.
class TokenDatasetWriter {
public:
    // `tokenizer_sha256` "": no tokenizer_sha256 attribute (the "bytes" tokenizer has no file).
    TokenDatasetWriter(const std::string& path, int64_t vocab_size, const std::string& tokenizer,
                       int64_t chunk_elements = int64_t(1) << 20, const std::string& tokenizer_sha256 = "");

    // labels, when given, must be as long as input_ids (checked).
    void add_document(std::span<const int32_t> input_ids,
                      std::optional<std::span<const int32_t>> labels = std::nullopt);
    // Writes the rest, /doc_offsets and the attributes, and closes the file.
    void finish();

    int64_t num_documents() const { return static_cast<int64_t>(doc_offsets_.size()) - 1; }
    int64_t total_tokens() const { return doc_offsets_.back(); }

private:
    void start_labels();
    void flush();

    std::string path_;
    int64_t vocab_size_;
    std::string tokenizer_;
    int64_t chunk_elements_;
    std::string tokenizer_sha256_;
    hdf5::File file_;
    hdf5::Dataset input_ids_, labels_;  // created at the first flush
    int64_t written_ = 0;               // tokens already in the file (both datasets)
    bool has_labels_ = false;
    std::vector<int32_t> pending_input_ids_, pending_labels_;
    std::vector<int64_t> doc_offsets_{0};
};

// The whole file in one go, for tests and small fixtures.
void write_token_dataset(const std::string& path, const std::vector<Document>& documents, int64_t vocab_size,
                         const std::string& tokenizer);

}  // namespace ringlm
