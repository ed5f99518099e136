#include "data/token_dataset.h"

#include <algorithm>

namespace ringlm {

// Elements per read while scanning a whole dataset: 4 MiB of int32, bounded memory on any file.
constexpr int64_t scan_elements = int64_t(1) << 20;

static const char* const prepare_hint = "`ringlm prepare` writes /input_ids, /doc_offsets and /labels";

// --- reading ------------------------------------------------------------------------------------

// A token dataset must be 1-D int32 (the hot path reads it without conversion).
static int64_t check_token_dataset(const hdf5::Dataset& dataset) {
    const hdf5::DatasetShape shape = hdf5::dataset_shape(dataset);
    const bool int32 = shape.type_class == H5T_INTEGER && shape.type_bytes == 4 && shape.is_signed;
    if (shape.dims.size() != 1 || !int32)
        fail("{}: is {}-D {}, expected 1-D int32 (store token ids as numpy.int32)", dataset.where(),
             shape.dims.size(), hdf5::type_name(shape));
    return static_cast<int64_t>(shape.dims[0]);
}

TokenDataset::TokenDataset(const std::string& path) : path_(path) {
    file_ = hdf5::open_file_readonly(path);
    input_ids_ = hdf5::open_dataset(file_, "input_ids", prepare_hint);
    const int64_t n_tokens = check_token_dataset(input_ids_);

    hdf5::Dataset offsets = hdf5::open_dataset(file_, "doc_offsets", prepare_hint);
    const hdf5::DatasetShape offsets_shape = hdf5::dataset_shape(offsets);
    if (offsets_shape.dims.size() != 1 || offsets_shape.type_class != H5T_INTEGER)
        fail("{}: is {}-D {}, expected 1-D int64 (n_docs + 1 offsets into /input_ids)", offsets.where(),
             offsets_shape.dims.size(), hdf5::type_name(offsets_shape));
    if (offsets_shape.dims[0] < 2)
        fail("{}: has {} entries, expected n_docs + 1 >= 2 (the file holds no document)", offsets.where(),
             offsets_shape.dims[0]);
    doc_offsets_.resize(offsets_shape.dims[0]);
    hdf5::read_range(offsets, 0, std::span<int64_t>(doc_offsets_));

    // offsets[0] = 0, offsets[d] <= offsets[d+1], offsets[n_docs] = len(input_ids)
    if (doc_offsets_[0] != 0)
        fail("{}[0] = {}, must be 0 (the first document starts at token 0)", offsets.where(), doc_offsets_[0]);
    for (size_t d = 1; d < doc_offsets_.size(); d++) {
        if (doc_offsets_[d] < doc_offsets_[d - 1])
            fail("{}[{}] = {} is less than /doc_offsets[{}] = {}: offsets must never decrease", offsets.where(), d,
                 doc_offsets_[d], d - 1, doc_offsets_[d - 1]);
    }
    if (doc_offsets_.back() != n_tokens)
        fail("{}[{}] = {} (the end of the last document) differs from the length of /input_ids ({})",
             offsets.where(), doc_offsets_.size() - 1, doc_offsets_.back(), n_tokens);

    if (hdf5::has_dataset(file_, "labels")) {
        labels_ = hdf5::open_dataset(file_, "labels", "");
        const int64_t n_labels = check_token_dataset(labels_);
        if (n_labels != n_tokens)
            fail("{}: has {} labels for {} input ids: one label per token (-100 for no loss)", labels_.where(),
                 n_labels, n_tokens);
    }

    if (!hdf5::has_attribute(file_, "vocab_size"))
        fail("{}: root attribute vocab_size is missing (set it to the tokenizer's vocabulary size; "
             "`ringlm prepare` does)", path);
    vocab_size_ = hdf5::read_int64_attribute(file_, "vocab_size");
    if (vocab_size_ <= 0) fail("{}: root attribute vocab_size = {}, must be positive", path, vocab_size_);
    if (hdf5::has_attribute(file_, "tokenizer")) tokenizer_ = hdf5::read_string_attribute(file_, "tokenizer");
    if (hdf5::has_attribute(file_, "tokenizer_sha256"))
        tokenizer_sha256_ = hdf5::read_string_attribute(file_, "tokenizer_sha256");
}

void TokenDataset::scan_range(const hdf5::Dataset& dataset, int64_t limit, bool allow_ignore_label,
                              const std::string& vocabulary) const {
    std::vector<int32_t> buffer;
    for (int64_t start = 0; start < total_tokens(); start += scan_elements) {
        buffer.resize(std::min(scan_elements, total_tokens() - start));
        hdf5::read_range(dataset, start, std::span<int32_t>(buffer));
        for (size_t i = 0; i < buffer.size(); i++) {
            const int32_t id = buffer[i];
            if (id >= 0 && id < limit) continue;
            if (allow_ignore_label && id == ignore_label) continue;
            if (allow_ignore_label)
                fail("{}[{}] = {} is neither -100 (no loss) nor inside {}", dataset.where(), start + int64_t(i), id,
                     vocabulary);
            fail("{}[{}] = {} is outside {}", dataset.where(), start + int64_t(i), id, vocabulary);
        }
    }
}

void TokenDataset::validate_tokens(int64_t model_vocab_size) const {
    const int64_t limit = std::min(vocab_size_, model_vocab_size);
    const std::string vocabulary = model_vocab_size <= vocab_size_
                                       ? fmt::format("the model's vocabulary ({})", model_vocab_size)
                                       : fmt::format("the file's vocabulary (attribute vocab_size = {})", vocab_size_);
    scan_range(input_ids_, limit, false, vocabulary);
    if (has_labels()) scan_range(labels_, limit, true, vocabulary);
}

int64_t TokenDataset::document_length(int64_t document) const {
    if (document < 0 || document >= num_documents())
        fail("{}: document {} does not exist (the file has {} documents)", path_, document, num_documents());
    return doc_offsets_[document + 1] - doc_offsets_[document];
}

Document TokenDataset::read_document(int64_t document) const {
    return std::move(read_documents(std::span<const int64_t>(&document, 1))[0]);
}

std::vector<Document> TokenDataset::read_documents(std::span<const int64_t> documents) const {
    for (int64_t document : documents) document_length(document);  // range check
    std::vector<int64_t> wanted(documents.begin(), documents.end());
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

    // One hyperslab read per run of adjacent documents, then each document cut out of its run.
    std::vector<Document> loaded(wanted.size());
    std::vector<int32_t> run_ids, run_labels;
    for (size_t first = 0; first < wanted.size();) {
        size_t last = first;
        while (last + 1 < wanted.size() && wanted[last + 1] == wanted[last] + 1) last++;
        const int64_t run_start = doc_offsets_[wanted[first]], run_end = doc_offsets_[wanted[last] + 1];
        run_ids.resize(run_end - run_start);
        hdf5::read_range(input_ids_, run_start, std::span<int32_t>(run_ids));
        if (has_labels()) {
            run_labels.resize(run_end - run_start);
            hdf5::read_range(labels_, run_start, std::span<int32_t>(run_labels));
        }
        for (size_t k = first; k <= last; k++) {
            const int64_t begin = doc_offsets_[wanted[k]] - run_start, end = doc_offsets_[wanted[k] + 1] - run_start;
            loaded[k].input_ids.assign(run_ids.begin() + begin, run_ids.begin() + end);
            if (has_labels()) loaded[k].labels.emplace(run_labels.begin() + begin, run_labels.begin() + end);
        }
        first = last + 1;
    }

    std::vector<Document> result;
    result.reserve(documents.size());
    for (int64_t document : documents) {
        const size_t k = std::lower_bound(wanted.begin(), wanted.end(), document) - wanted.begin();
        result.push_back(loaded[k]);
    }
    return result;
}

// --- writing ------------------------------------------------------------------------------------

TokenDatasetWriter::TokenDatasetWriter(const std::string& path, int64_t vocab_size, const std::string& tokenizer,
                                       int64_t chunk_elements, const std::string& tokenizer_sha256)
    : path_(path), vocab_size_(vocab_size), tokenizer_(tokenizer), chunk_elements_(chunk_elements),
      tokenizer_sha256_(tokenizer_sha256) {
    if (chunk_elements <= 0) fail("{}: chunk_elements = {}, must be positive", path, chunk_elements);
    file_ = hdf5::create_file(path);
}

void TokenDatasetWriter::add_document(std::span<const int32_t> input_ids,
                                      std::optional<std::span<const int32_t>> labels) {
    if (!file_.valid()) fail("{}: add_document after finish()", path_);
    if (labels && labels->size() != input_ids.size())
        fail("{}: document {} has {} labels for {} input ids", path_, num_documents(), labels->size(),
             input_ids.size());
    if (labels && !has_labels_) start_labels();
    pending_input_ids_.insert(pending_input_ids_.end(), input_ids.begin(), input_ids.end());
    if (has_labels_) {
        const std::span<const int32_t> source = labels ? *labels : input_ids;  // no labels: all tokens have loss
        pending_labels_.insert(pending_labels_.end(), source.begin(), source.end());
    }
    doc_offsets_.push_back(doc_offsets_.back() + static_cast<int64_t>(input_ids.size()));
    if (static_cast<int64_t>(pending_input_ids_.size()) >= chunk_elements_) flush();
}

// The first document with labels: every token before it has loss, so its labels are its ids.
void TokenDatasetWriter::start_labels() {
    has_labels_ = true;
    pending_labels_ = pending_input_ids_;
    if (written_ == 0) return;
    labels_ = hdf5::create_growing_dataset(file_, "labels", H5T_NATIVE_INT32, chunk_elements_);
    std::vector<int32_t> buffer;
    for (int64_t start = 0; start < written_; start += chunk_elements_) {
        buffer.resize(std::min(chunk_elements_, written_ - start));
        hdf5::read_range(input_ids_, start, std::span<int32_t>(buffer));
        hdf5::append(labels_, start, std::span<const int32_t>(buffer));
    }
}

void TokenDatasetWriter::flush() {
    if (pending_input_ids_.empty()) return;
    if (!input_ids_.valid())
        input_ids_ = hdf5::create_growing_dataset(file_, "input_ids", H5T_NATIVE_INT32, chunk_elements_);
    if (has_labels_ && !labels_.valid())
        labels_ = hdf5::create_growing_dataset(file_, "labels", H5T_NATIVE_INT32, chunk_elements_);
    const int64_t new_size = hdf5::append(input_ids_, written_, std::span<const int32_t>(pending_input_ids_));
    if (has_labels_) hdf5::append(labels_, written_, std::span<const int32_t>(pending_labels_));
    written_ = new_size;
    pending_input_ids_.clear();
    pending_labels_.clear();
}

void TokenDatasetWriter::finish() {
    if (!file_.valid()) fail("{}: finish() called twice", path_);
    if (input_ids_.valid()) {
        flush();
    } else {
        // Everything fits in one chunk: contiguous datasets, one write each.
        hdf5::write_dataset(file_, "input_ids", std::span<const int32_t>(pending_input_ids_));
        if (has_labels_) hdf5::write_dataset(file_, "labels", std::span<const int32_t>(pending_labels_));
    }
    hdf5::write_dataset(file_, "doc_offsets", std::span<const int64_t>(doc_offsets_));
    hdf5::write_int64_attribute(file_, "vocab_size", vocab_size_);
    hdf5::write_string_attribute(file_, "tokenizer", tokenizer_);
    if (!tokenizer_sha256_.empty()) hdf5::write_string_attribute(file_, "tokenizer_sha256", tokenizer_sha256_);
    input_ids_.reset();
    labels_.reset();
    hdf5::check(H5Fflush(file_.id(), H5F_SCOPE_LOCAL), path_, "cannot flush");
    file_.reset();
}

void write_token_dataset(const std::string& path, const std::vector<Document>& documents, int64_t vocab_size,
                         const std::string& tokenizer) {
    TokenDatasetWriter writer(path, vocab_size, tokenizer);
    for (const Document& document : documents) {
        std::optional<std::span<const int32_t>> labels;
        if (document.labels) labels = std::span<const int32_t>(*document.labels);
        writer.add_document(document.input_ids, labels);
    }
    writer.finish();
}

}  // namespace ringlm
