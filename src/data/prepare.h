// `ringlm prepare`: text and JSONL -> the token file of token_dataset.h.
//
// Inputs, in the order given (a folder's files sorted by path, for determinism):
//   - plain text (*.txt or any non-.jsonl file): one document per file, or with
//     TextSplit::paragraphs one document per block of lines separated by blank lines
//   - folders, searched recursively for *.txt
//   - JSONL (*.jsonl): one JSON object per line, either {"text": "..."} (tokenized here) or
//     pre-tokenized {"input_ids": [...], "labels": [...]} (labels optional, same length, -100 =
//     no loss; ids taken as they are: no BOS/EOS added). Other keys are ignored.
// With a DatasetFormat type (completion, alpaca, chat_template; dataset_format.h) every input is
// JSONL of that type: each record becomes spans of text (dataset_records.h), each span encoded on
// its own (no token crosses from an untrained span into a trained one) and labelled: -100 where
// untrained, the token id where trained.
// Whitespace-only texts and blank lines are skipped. The file is written under a temporary
// name next to `output` and renamed at the end, so a failure never leaves a half-written file.
#pragma once

#include "data/dataset_format.h"
#include "data/token_dataset.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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
    // Typed datasets: the ids of a span of text without BOS/EOS (the template's special tokens
    // as they appear in the text), and the ids encode puts first and last (-1: none).
    std::function<std::vector<int32_t>(std::string_view text)> encode_plain;
    int32_t bos = -1, eos = -1;
};

// prepare's view of a tokenizer: encode adds BOS and EOS.
TextEncoder make_text_encoder(std::shared_ptr<const Tokenizer> tokenizer);

enum class TextSplit { whole_file, paragraphs };
// "file" or "paragraphs" (for the command line); anything else is an Error listing both.
TextSplit text_split_from_name(std::string_view name);

struct PrepareOptions {
    TextSplit split = TextSplit::whole_file;
    bool overwrite = false;                     // replace an existing output
    bool verbose = true;                        // progress on stderr (~1 line/s), summary on stdout
    int64_t chunk_elements = int64_t(1) << 20;  // HDF5 chunk of /input_ids and /labels
    DatasetFormat format;                       // type tokens: text, folders, JSONL of text or ids
    ChatTemplateName chat_template = ChatTemplateName::chatml;  // type chat_template: resolved, a built-in
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

// One line of a JSONL input as prepare reads it: its document, or nothing for a blank line or
// a blank "text". Errors name `where` ("file:line").
std::optional<Document> read_jsonl_line(std::string_view line, const std::string& where, const TextEncoder& encoder);

PrepareSummary prepare_dataset(const std::vector<std::string>& inputs, const std::string& output,
                               const TextEncoder& encoder, const PrepareOptions& options = {});

}  // namespace ringlm
