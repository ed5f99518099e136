// `ringlm prepare`: text and JSONL -> the token file of token_dataset.h.
//
// Inputs, in the order given (a folder's files sorted by path, for determinism):
//   - plain text (*.txt or any non-.jsonl file): one document per file, or with
//     TextSplit::paragraphs one document per block of lines separated by blank lines
//   - folders, searched recursively for *.txt
//   - JSONL (*.jsonl): one JSON object per line, either {"text": "..."} (tokenized here) or
//     pre-tokenized {"input_ids": [...], "labels": [...]} (labels optional, same length, -100 =
//     no loss; ids taken as they are: no BOS/EOS added). Other keys are ignored.
// Whitespace-only texts and blank lines are skipped. The file is written under a temporary
// name next to `output` and renamed at the end, so a failure never leaves a half-written file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

// What prepare needs from a tokenizer (the coordinator adapts src/data/tokenizer.h to it).
struct TextEncoder {
    // The ids of one document, BOS first and EOS last. Called from several threads at once.
    std::function<std::vector<int32_t>(std::string_view text)> encode;
    int64_t vocab_size = 0;  // written as the vocab_size attribute; pre-tokenized ids are checked against it
    std::string name;        // written as the tokenizer attribute
    std::string sha256;      // written as the tokenizer_sha256 attribute unless "" (see tokenizer.h)
};

enum class TextSplit { whole_file, paragraphs };
// "file" or "paragraphs" (for the command line); anything else is an Error listing both.
TextSplit text_split_from_name(std::string_view name);

struct PrepareOptions {
    TextSplit split = TextSplit::whole_file;
    bool overwrite = false;                     // replace an existing output
    bool verbose = true;                        // progress on stderr (~1 line/s), summary on stdout
    int64_t chunk_elements = int64_t(1) << 20;  // HDF5 chunk of /input_ids and /labels
};

struct PrepareSummary {
    int64_t documents = 0;
    int64_t tokens = 0;
    int64_t max_document_length = 0;
    double mean_document_length = 0;
    int64_t text_bytes = 0;       // of the texts encoded (not of pre-tokenized records)
    double encode_seconds = 0;    // wall time spent encoding them, all threads together
    int threads = 1;              // encoding in parallel over documents
    std::string tokenizer;
    std::string output;
};
std::string format_summary(const PrepareSummary& summary);

PrepareSummary prepare_dataset(const std::vector<std::string>& inputs, const std::string& output,
                               const TextEncoder& encoder, const PrepareOptions& options = {});

}  // namespace ringlm
