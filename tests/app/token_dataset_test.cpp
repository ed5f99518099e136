// The token file: random documents written and read back exactly (contiguous and chunked, with
// and without labels), hyperslab reads of chosen documents, every refusal of a bad file naming
// the file, the dataset and the index, and a cross-check with independent readers/writers
// (h5dump of hdf5-tools; h5py when Debian's python3-h5py is there).
#include "data/hdf5_handle.h"
#include "data/token_dataset.h"
#include "data_test_util.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>

namespace ringlm {
using namespace ringlm::testing;

// Random documents: lengths 0..max_length (empty ones included), ids in [0, vocab); with
// `label_fraction` of them labelled (each label -100 or a random id).
static std::vector<Document> random_documents(std::mt19937_64& rng, int count, int max_length, int32_t vocab,
                                              double label_fraction) {
    std::uniform_int_distribution<int> length(0, max_length);
    std::uniform_int_distribution<int32_t> id(0, vocab - 1);
    std::bernoulli_distribution labelled(label_fraction), ignored(0.3);
    std::vector<Document> documents(count);
    for (Document& document : documents) {
        document.input_ids.resize(length(rng));
        for (int32_t& token : document.input_ids) token = id(rng);
        if (!labelled(rng)) continue;
        document.labels.emplace(document.input_ids.size());
        for (int32_t& label : *document.labels) label = ignored(rng) ? ignore_label : id(rng);
    }
    return documents;
}

// What the file must hold for document d: its ids, and its labels (ids where it had none, when
// any document of the file has labels).
static void expect_document(const Document& read, const Document& written, bool file_has_labels, int64_t index,
                            uint64_t seed) {
    ASSERT_EQ(read.input_ids, written.input_ids) << "document " << index << ", seed " << seed;
    ASSERT_EQ(read.labels.has_value(), file_has_labels) << "document " << index << ", seed " << seed;
    if (file_has_labels) {
        const std::vector<int32_t>& expected = written.labels ? *written.labels : written.input_ids;
        ASSERT_EQ(*read.labels, expected) << "document " << index << ", seed " << seed;
    }
}

static void write_documents(const std::string& path, const std::vector<Document>& documents, int64_t chunk_elements) {
    TokenDatasetWriter writer(path, 1000, "random", chunk_elements);
    for (const Document& document : documents) {
        std::optional<std::span<const int32_t>> labels;
        if (document.labels) labels = std::span<const int32_t>(*document.labels);
        writer.add_document(document.input_ids, labels);
    }
    writer.finish();
}

TEST(TokenDataset, RoundTripsRandomDocuments) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    TempDir dir;
    // label_fraction 0: no /labels; 1: all labelled; 0.5: /labels starts mid-file (backfilled).
    // chunk 1<<20: one contiguous write per dataset; chunk 37: chunked appends across documents.
    for (double label_fraction : {0.0, 1.0, 0.5}) {
        for (int64_t chunk : {int64_t(1) << 20, int64_t(37)}) {
            SCOPED_TRACE(fmt::format("label_fraction {} chunk {} seed {}", label_fraction, chunk, seed));
            std::vector<Document> documents = random_documents(rng, 60, 120, 1000, label_fraction);
            if (label_fraction == 0.5) {  // unlabelled documents first, so labels begin after a flush
                for (int d = 0; d < 10; d++) documents[d].labels.reset();
                documents[20].labels.emplace(documents[20].input_ids.size(), ignore_label);
            }
            const std::string path = dir.file(fmt::format("round_trip_{}_{}.h5", label_fraction, chunk));
            write_documents(path, documents, chunk);
            const bool has_labels = label_fraction > 0;

            TokenDataset dataset(path);
            dataset.validate_tokens(1000);
            ASSERT_EQ(dataset.num_documents(), int64_t(documents.size()));
            ASSERT_EQ(dataset.has_labels(), has_labels);
            EXPECT_EQ(dataset.vocab_size(), 1000);
            EXPECT_EQ(dataset.tokenizer(), "random");
            int64_t total = 0;
            for (size_t d = 0; d < documents.size(); d++) {
                EXPECT_EQ(dataset.document_length(d), int64_t(documents[d].input_ids.size()));
                total += documents[d].input_ids.size();
            }
            EXPECT_EQ(dataset.total_tokens(), total);

            std::uniform_int_distribution<int64_t> pick(0, dataset.num_documents() - 1);
            for (int trial = 0; trial < 20; trial++) {
                const int64_t d = pick(rng);
                expect_document(dataset.read_document(d), documents[d], has_labels, d, seed);
            }
        }
    }
}

TEST(TokenDataset, ReadsExactlyTheAskedDocumentsInOrder) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::vector<Document> documents = random_documents(rng, 200, 50, 1000, 0.5);
    const std::string path = dir.file("batch.h5");
    write_documents(path, documents, 64);
    TokenDataset dataset(path);

    // Unsorted, with repeats and with runs of adjacent documents (read together).
    std::uniform_int_distribution<int64_t> pick(0, 199);
    std::vector<int64_t> asked{7, 3, 4, 5, 6, 199, 0, 5, 5};
    for (int k = 0; k < 30; k++) asked.push_back(pick(rng));
    const std::vector<Document> read = dataset.read_documents(asked);
    ASSERT_EQ(read.size(), asked.size());
    for (size_t k = 0; k < asked.size(); k++) expect_document(read[k], documents[asked[k]], true, asked[k], seed);

    expect_error_mentions([&] { dataset.read_document(200); }, {path, "document 200", "200 documents"});
    expect_error_mentions([&] { dataset.read_documents(std::vector<int64_t>{1, -1}); }, {path, "document -1"});
}

TEST(TokenDataset, TwoReadersOfOneFileAtOnce) {
    std::mt19937_64 rng(fresh_seed());
    TempDir dir;
    const std::vector<Document> documents = random_documents(rng, 10, 20, 100, 0.0);
    const std::string path = dir.file("shared.h5");
    write_documents(path, documents, 1 << 20);
    TokenDataset first(path), second(path);  // as two ranks would, read-only
    EXPECT_EQ(first.read_document(3).input_ids, documents[3].input_ids);
    EXPECT_EQ(second.read_document(3).input_ids, documents[3].input_ids);
}

// --- refusals -------------------------------------------------------------------------------------

// A file built by hand (the writer never makes these mistakes).
static void write_raw(const std::string& path, const std::vector<int32_t>& input_ids,
                      const std::vector<int64_t>& doc_offsets, std::optional<std::vector<int32_t>> labels = {},
                      std::optional<int64_t> vocab_size = 1000) {
    hdf5::File file = hdf5::create_file(path);
    hdf5::write_dataset(file, "input_ids", std::span<const int32_t>(input_ids));
    hdf5::write_dataset(file, "doc_offsets", std::span<const int64_t>(doc_offsets));
    if (labels) hdf5::write_dataset(file, "labels", std::span<const int32_t>(*labels));
    if (vocab_size) hdf5::write_int64_attribute(file, "vocab_size", *vocab_size);
}

TEST(TokenDataset, RefusesBadOffsets) {
    TempDir dir;
    const std::vector<int32_t> ids(10, 5);
    const std::string decreasing = dir.file("decreasing.h5");
    write_raw(decreasing, ids, {0, 5, 3, 10});
    expect_error_mentions([&] { TokenDataset dataset(decreasing); },
                          {decreasing, "/doc_offsets[2] = 3", "/doc_offsets[1] = 5", "never decrease"});

    const std::string short_end = dir.file("short_end.h5");
    write_raw(short_end, ids, {0, 5, 9});
    expect_error_mentions([&] { TokenDataset dataset(short_end); },
                          {short_end, "/doc_offsets[2] = 9", "length of /input_ids (10)"});

    const std::string late_start = dir.file("late_start.h5");
    write_raw(late_start, ids, {2, 5, 10});
    expect_error_mentions([&] { TokenDataset dataset(late_start); }, {late_start, "/doc_offsets[0] = 2", "must be 0"});

    const std::string no_documents = dir.file("no_documents.h5");
    write_raw(no_documents, {}, {0});
    expect_error_mentions([&] { TokenDataset dataset(no_documents); }, {no_documents, "/doc_offsets", "no document"});
}

TEST(TokenDataset, RefusesTokensOutsideTheVocabulary) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    TempDir dir;
    // Past the first 1M-element piece of the scan, so the index must count across pieces.
    const int64_t n = (int64_t(1) << 20) + 5000;
    const int64_t bad = (int64_t(1) << 20) + std::uniform_int_distribution<int64_t>(0, 4999)(rng);
    std::vector<int32_t> ids(n);
    std::uniform_int_distribution<int32_t> id(0, 299);  // inside both vocabularies below
    for (int32_t& token : ids) token = id(rng);
    ids[bad] = 5000;
    const std::string path = dir.file("austen.h5");
    write_raw(path, ids, {0, n / 2, n}, std::nullopt, 6000);
    TokenDataset dataset(path);
    expect_error_mentions([&] { dataset.validate_tokens(512); },
                          {fmt::format("{}: /input_ids[{}] = 5000 is outside the model's vocabulary (512)", path, bad)});
    // The file's own vocabulary is the tighter bound when it is smaller than the model's.
    ids[bad] = 400;
    const std::string small_vocabulary = dir.file("small_vocabulary.h5");
    write_raw(small_vocabulary, ids, {0, n}, std::nullopt, 300);
    expect_error_mentions([&] { TokenDataset(small_vocabulary).validate_tokens(512); },
                          {fmt::format("/input_ids[{}] = 400", bad), "file's vocabulary", "300"});

    const std::string negative = dir.file("negative.h5");
    write_raw(negative, {3, 4, -7, 5}, {0, 4});
    expect_error_mentions([&] { TokenDataset(negative).validate_tokens(512); }, {negative, "/input_ids[2] = -7"});
}

TEST(TokenDataset, RefusesBadLabels) {
    TempDir dir;
    const std::string bad_value = dir.file("bad_label.h5");
    write_raw(bad_value, {3, 4, 5, 6}, {0, 4}, std::vector<int32_t>{-100, 4, -5, 6});
    expect_error_mentions([&] { TokenDataset(bad_value).validate_tokens(512); },
                          {bad_value, "/labels[2] = -5", "-100"});
    const std::string too_large = dir.file("large_label.h5");
    write_raw(too_large, {3, 4, 5, 6}, {0, 4}, std::vector<int32_t>{-100, 4, 5, 512});
    expect_error_mentions([&] { TokenDataset(too_large).validate_tokens(512); }, {"/labels[3] = 512"});

    const std::string short_labels = dir.file("short_labels.h5");
    write_raw(short_labels, {3, 4, 5, 6}, {0, 4}, std::vector<int32_t>{3, 4, 5});
    expect_error_mentions([&] { TokenDataset dataset(short_labels); }, {short_labels, "/labels", "3 labels for 4"});
}

TEST(TokenDataset, RefusesMissingOrWrongPieces) {
    TempDir dir;
    const std::string no_input_ids = dir.file("no_input_ids.h5");
    {
        hdf5::File file = hdf5::create_file(no_input_ids);
        hdf5::write_dataset(file, "doc_offsets", std::span<const int64_t>(std::vector<int64_t>{0, 4}));
    }
    expect_error_mentions([&] { TokenDataset dataset(no_input_ids); }, {no_input_ids, "/input_ids", "missing"});

    const std::string no_vocab = dir.file("no_vocab.h5");
    write_raw(no_vocab, {3, 4}, {0, 2}, std::nullopt, std::nullopt);
    expect_error_mentions([&] { TokenDataset dataset(no_vocab); }, {no_vocab, "vocab_size", "missing"});

    const std::string zero_vocab = dir.file("zero_vocab.h5");
    write_raw(zero_vocab, {3, 4}, {0, 2}, std::nullopt, 0);
    expect_error_mentions([&] { TokenDataset dataset(zero_vocab); }, {zero_vocab, "vocab_size = 0"});

    const std::string int64_ids = dir.file("int64_ids.h5");
    {
        hdf5::File file = hdf5::create_file(int64_ids);
        hdf5::write_dataset(file, "input_ids", std::span<const int64_t>(std::vector<int64_t>{3, 4}));
        hdf5::write_dataset(file, "doc_offsets", std::span<const int64_t>(std::vector<int64_t>{0, 2}));
    }
    expect_error_mentions([&] { TokenDataset dataset(int64_ids); }, {int64_ids, "/input_ids", "int64", "int32"});

    TempDir text;
    const std::string not_hdf5 = text.write("notes.h5", "this is plain text, not HDF5\n");
    expect_error_mentions([&] { TokenDataset dataset(not_hdf5); }, {not_hdf5, "not an HDF5 file", "ringlm prepare"});

    const std::string missing = dir.file("missing.h5");
    expect_error_mentions([&] { TokenDataset dataset(missing); }, {missing, "no such file"});
}

// --- independent readers and writers ------------------------------------------------------------

// The values h5dump prints for one dataset (comma separated with -y -w 0 -o).
static std::vector<int64_t> h5dump_values(const std::string& path, const std::string& dataset, const TempDir& dir) {
    const std::string text_path = dir.file(dataset + ".txt");
    const std::string command = fmt::format("h5dump -d /{} -y -w 0 -o '{}' '{}' > /dev/null 2>&1", dataset, text_path, path);
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << "failed: " << command;
    std::ifstream stream(text_path);
    std::vector<int64_t> values;
    std::string item;
    while (std::getline(stream, item, ',')) {
        if (item.find_first_not_of(" \n") != std::string::npos) values.push_back(std::stoll(item));
    }
    return values;
}

TEST(TokenDataset, H5dumpReadsWhatWeWrite) {
    if (std::system("h5dump --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "h5dump (hdf5-tools) not installed";
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    TempDir dir;
    const std::vector<Document> documents = random_documents(rng, 30, 40, 1000, 0.5);
    const std::string path = dir.file("dumped.h5");
    write_documents(path, documents, 50);  // chunked

    std::vector<int64_t> offsets{0}, ids, labels;
    for (const Document& document : documents) {
        offsets.push_back(offsets.back() + document.input_ids.size());
        ids.insert(ids.end(), document.input_ids.begin(), document.input_ids.end());
        const std::vector<int32_t>& own = document.labels ? *document.labels : document.input_ids;
        labels.insert(labels.end(), own.begin(), own.end());
    }
    EXPECT_EQ(h5dump_values(path, "doc_offsets", dir), offsets) << "seed " << seed;
    EXPECT_EQ(h5dump_values(path, "input_ids", dir), ids) << "seed " << seed;
    EXPECT_EQ(h5dump_values(path, "labels", dir), labels) << "seed " << seed;
}

TEST(TokenDataset, ReadsWhatH5pyWrites) {
    const char* python = "/usr/bin/python3";
    if (std::system(fmt::format("{} -c 'import h5py' > /dev/null 2>&1", python).c_str()) != 0)
        GTEST_SKIP() << "python3-h5py not installed";
    TempDir dir;
    const std::string path = dir.file("from_h5py.h5");
    // numpy's default int64 offsets, int32 ids, python int and str attributes: what users write.
    const std::string script = fmt::format(
        "import h5py, numpy as np\n"
        "with h5py.File('{}', 'w') as f:\n"
        "    f['input_ids'] = np.arange(3, 28, dtype=np.int32)\n"
        "    f['doc_offsets'] = np.array([0, 3, 3, 25])\n"
        "    f['labels'] = np.where(np.arange(25) < 3, -100, np.arange(3, 28)).astype(np.int32)\n"
        "    f.attrs['vocab_size'] = 300\n"
        "    f.attrs['tokenizer'] = 'bytes'\n",
        path);
    const std::string script_path = dir.write("write.py", script);
    ASSERT_EQ(std::system(fmt::format("{} '{}'", python, script_path).c_str()), 0);

    TokenDataset dataset(path);
    dataset.validate_tokens(512);
    EXPECT_EQ(dataset.num_documents(), 3);
    EXPECT_EQ(dataset.vocab_size(), 300);
    EXPECT_EQ(dataset.tokenizer(), "bytes");
    EXPECT_EQ(dataset.document_length(1), 0);
    const Document last = dataset.read_document(2);
    ASSERT_EQ(last.input_ids.size(), 22u);
    for (int t = 0; t < 22; t++) {
        EXPECT_EQ(last.input_ids[t], 6 + t);
        EXPECT_EQ((*last.labels)[t], 6 + t);
    }
    EXPECT_EQ(*dataset.read_document(0).labels, (std::vector<int32_t>{-100, -100, -100}));
}

}  // namespace ringlm
