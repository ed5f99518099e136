#include "data/prepare.h"

#include "data/dataset_records.h"
#include "data/token_dataset.h"
#include "util/error.h"

#include <fmt/core.h>
#include <omp.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>

namespace ringlm {

namespace fs = std::filesystem;
using nlohmann::json;

TextSplit text_split_from_name(std::string_view name) {
    if (name == "file") return TextSplit::whole_file;
    if (name == "paragraphs") return TextSplit::paragraphs;
    fail("split '{}' is not known: use 'file' (one document per file) or 'paragraphs' (per blank-line block)", name);
}

std::string format_summary(const PrepareSummary& summary) {
    std::string encoded;
    if (summary.text_bytes > 0 && summary.encode_seconds > 0)
        encoded = fmt::format(", {:.1f} MB of text encoded at {:.2f} MB/s ({} threads)", double(summary.text_bytes) / 1e6,
                              double(summary.text_bytes) / 1e6 / summary.encode_seconds, summary.threads);
    return fmt::format("prepare: {} documents, {} tokens, document length max {} mean {:.1f}{}, tokenizer {} -> {}",
                       summary.documents, summary.tokens, summary.max_document_length,
                       summary.mean_document_length, encoded, summary.tokenizer, summary.output);
}

TextEncoder make_text_encoder(std::shared_ptr<const Tokenizer> tokenizer) {
    TextEncoder encoder;
    encoder.encode = [tokenizer](std::string_view text) { return tokenizer->encode(text, true, true); };
    encoder.vocab_size = tokenizer->vocab_size();
    encoder.name = tokenizer->name();
    encoder.sha256 = tokenizer->sha256();
    encoder.encode_plain = [tokenizer](std::string_view text) { return tokenizer->encode(text, false, false); };
    encoder.bos = tokenizer->bos();
    encoder.eos = tokenizer->eos();
    return encoder;
}

// --- inputs -------------------------------------------------------------------------------------

static bool is_jsonl(const fs::path& path) { return path.extension() == ".jsonl"; }

// Files in the order given; a folder contributes its *.txt files, recursively, sorted by path.
static std::vector<fs::path> expand_inputs(const std::vector<std::string>& inputs) {
    if (inputs.empty()) fail("prepare: no inputs given (text files, JSONL files or folders of .txt files)");
    std::vector<fs::path> files;
    for (const std::string& input : inputs) {
        if (!fs::exists(input)) fail("{}: no such file or folder", input);
        if (!fs::is_directory(input)) {
            files.emplace_back(input);
            continue;
        }
        std::vector<fs::path> found;
        for (const fs::directory_entry& entry : fs::recursive_directory_iterator(input)) {
            if (entry.is_regular_file() && entry.path().extension() == ".txt") found.push_back(entry.path());
        }
        if (found.empty()) fail("{}: folder holds no .txt files", input);
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

static bool is_blank(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); });
}

static std::ifstream open_input(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) fail("{}: cannot open for reading", path.string());
    return stream;
}

// The ids of one text; `where` ("file" or "file:line") prefixes a tokenizer's own Error.
static std::vector<int32_t> encode_text(const TextEncoder& encoder, std::string_view text, const std::string& where) {
    try {
        return encoder.encode(text);
    } catch (const Error& error) {
        fail("{}: {}", where, error.what());
    }
}

// --- the documents, as they go into the file ------------------------------------------------------

// Texts are encoded in batches, in parallel over documents (OpenMP), and written in input
// order: the file is the same whatever the number of threads.
constexpr size_t encode_batch_bytes = size_t(8) << 20;
constexpr size_t encode_batch_documents = 1024;

struct PendingText {
    std::string text;
    std::string where;  // "file" or "file:line": prefixes a tokenizer's own Error
    fs::path from;
    std::optional<FormattedRecord> formatted = std::nullopt;  // a typed record (text unused: its spans hold it)
};

// A typed record's ids and labels: each span encoded on its own, labelled as the span says.
static Document encode_formatted(const TextEncoder& encoder, const FormattedRecord& record) {
    if (!encoder.encode_plain) fail("prepare: the tokenizer '{}' cannot encode without BOS/EOS", encoder.name);
    Document document{{}, std::vector<int32_t>{}};
    std::vector<int32_t>& labels = *document.labels;
    const auto append = [&](std::span<const int32_t> ids, bool trained) {
        for (int32_t id : ids) {
            document.input_ids.push_back(id);
            labels.push_back(trained ? id : ignore_label);
        }
    };
    if (record.bos && encoder.bos >= 0) append(std::span(&encoder.bos, 1), false);
    for (const TextSpan& span : record.spans) append(encoder.encode_plain(span.text), span.trained);
    if (record.eos && encoder.eos >= 0) append(std::span(&encoder.eos, 1), true);
    return document;
}

struct DocumentSink {
    TokenDatasetWriter& writer;
    const TextEncoder& encoder;
    bool verbose;
    int64_t max_document_length = 0;
    int64_t text_bytes = 0;  // of the texts encoded so far
    double encode_seconds = 0;
    std::chrono::steady_clock::time_point last_report = std::chrono::steady_clock::now();
    std::vector<PendingText> pending = {};
    size_t pending_bytes = 0;

    // A pre-tokenized document: the texts before it go first.
    void add(std::span<const int32_t> input_ids, std::optional<std::span<const int32_t>> labels, const fs::path& from) {
        flush();
        write(input_ids, labels, from);
    }

    void add_text(std::string_view text, const std::string& where, const fs::path& from) {
        if (is_blank(text)) return;
        pending.push_back(PendingText{std::string(text), where, from});
        pending_bytes += text.size();
        if (pending_bytes >= encode_batch_bytes || pending.size() >= encode_batch_documents) flush();
    }

    void add_record(FormattedRecord record, const std::string& where, const fs::path& from) {
        size_t bytes = 0;
        for (const TextSpan& span : record.spans) bytes += span.text.size();
        pending.push_back(PendingText{std::string(), where, from, std::move(record)});
        pending_bytes += bytes;
        if (pending_bytes >= encode_batch_bytes || pending.size() >= encode_batch_documents) flush();
    }

    // Encodes the pending texts in parallel, then writes them in order; the first failing text
    // (in input order) is the one reported.
    void flush() {
        const int64_t n = static_cast<int64_t>(pending.size());
        std::vector<Document> documents(pending.size());
        std::vector<std::string> errors(pending.size());
        std::vector<int64_t> bytes(pending.size(), 0);
        const auto start = std::chrono::steady_clock::now();
        #pragma omp parallel for schedule(dynamic, 1)
        for (int64_t i = 0; i < n; i++) {
            try {
                const PendingText& text = pending[i];
                if (text.formatted) {
                    documents[i] = encode_formatted(encoder, *text.formatted);
                    for (const TextSpan& span : text.formatted->spans) bytes[i] += static_cast<int64_t>(span.text.size());
                } else {
                    documents[i].input_ids = encoder.encode(text.text);
                    bytes[i] = static_cast<int64_t>(text.text.size());
                }
            } catch (const std::exception& error) {
                errors[i] = error.what();
            }
        }
        encode_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (int64_t i = 0; i < n; i++) {
            if (!errors[i].empty()) fail("{}: {}", pending[i].where, errors[i]);
            text_bytes += bytes[i];
            std::optional<std::span<const int32_t>> labels;
            if (documents[i].labels) labels = std::span<const int32_t>(*documents[i].labels);
            write(documents[i].input_ids, labels, pending[i].from);
        }
        pending.clear();
        pending_bytes = 0;
    }

    void write(std::span<const int32_t> input_ids, std::optional<std::span<const int32_t>> labels, const fs::path& from) {
        writer.add_document(input_ids, labels);
        max_document_length = std::max(max_document_length, static_cast<int64_t>(input_ids.size()));
        const auto now = std::chrono::steady_clock::now();
        if (verbose && now - last_report >= std::chrono::seconds(1)) {
            fmt::print(stderr, "prepare: {} documents, {} tokens, {:.1f} MB of text encoded ({})\n", writer.num_documents(),
                       writer.total_tokens(), double(text_bytes) / 1e6, from.string());
            last_report = now;
        }
    }
};

// One document per file, or per block of lines between blank lines.
static void read_text_file(const fs::path& path, TextSplit split, DocumentSink& sink) {
    std::ifstream stream = open_input(path);
    if (split == TextSplit::whole_file) {
        const std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
        if (stream.bad()) fail("{}: read error", path.string());
        sink.add_text(text, path.string(), path);
        return;
    }
    std::string line, block;
    int64_t block_start = 0;  // line number of the block's first line
    auto add_block = [&] { sink.add_text(block, fmt::format("{}:{}", path.string(), block_start), path); };
    for (int64_t line_number = 1; std::getline(stream, line); line_number++) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (is_blank(line)) {
            add_block();
            block.clear();
            continue;
        }
        if (block.empty()) block_start = line_number;
        if (!block.empty()) block += '\n';
        block += line;
    }
    if (stream.bad()) fail("{}: read error", path.string());
    add_block();
}

// input_ids or labels of a JSONL record: integers, each a token id of the vocabulary (or -100
// for a label).
static std::vector<int32_t> read_ids(const json& value, std::string_view field, const std::string& where,
                                     int64_t vocab_size, bool is_label) {
    if (!value.is_array()) fail("{}: field \"{}\" is {}, expected an array of token ids", where, field, value.type_name());
    std::vector<int32_t> ids;
    ids.reserve(value.size());
    for (size_t i = 0; i < value.size(); i++) {
        const json& element = value[i];
        if (!element.is_number_integer())
            fail("{}: {}[{}] is {}, expected an integer token id", where, field, i, element.dump());
        const bool in_vocabulary = element.is_number_unsigned()
                                       ? element.get<uint64_t>() < static_cast<uint64_t>(vocab_size)
                                       : element.get<int64_t>() >= 0 && element.get<int64_t>() < vocab_size;
        const bool ignored = is_label && !element.is_number_unsigned() && element.get<int64_t>() == ignore_label;
        if (!in_vocabulary && !ignored)
            fail("{}: {}[{}] = {} is {} the tokenizer's vocabulary ({})", where, field, i, element.dump(),
                 is_label ? "neither -100 (no loss) nor a token id of" : "outside", vocab_size);
        ids.push_back(static_cast<int32_t>(element.get<int64_t>()));
    }
    return ids;
}

static std::optional<Document> read_jsonl_record(const json& record, const std::string& where,
                                                 const TextEncoder& encoder) {
    if (!record.is_object())
        fail("{}: expected a JSON object with \"text\" or \"input_ids\", found {}", where, record.type_name());
    const bool has_text = record.contains("text"), has_ids = record.contains("input_ids");
    const bool has_labels = record.contains("labels");
    if (has_text && has_ids)
        fail("{}: has both \"text\" and \"input_ids\"; keep one (text is tokenized here, input_ids are taken as is)",
             where);
    if (!has_text && !has_ids)
        fail("{}: has neither \"text\" nor \"input_ids\" (chat, Alpaca and other records are read by a datasets: entry "
             "with a type:, see ringlm prepare --config)",
             where);
    if (has_text) {
        if (!record["text"].is_string())
            fail("{}: field \"text\" is {}, expected a string", where, record["text"].type_name());
        if (has_labels) fail("{}: field \"labels\" needs \"input_ids\" (labels of text are not defined)", where);
        const std::string& text = record["text"].get_ref<const std::string&>();
        if (is_blank(text)) return std::nullopt;
        return Document{encode_text(encoder, text, where), std::nullopt};
    }
    Document document{read_ids(record["input_ids"], "input_ids", where, encoder.vocab_size, false), std::nullopt};
    if (document.input_ids.empty())
        fail("{}: field \"input_ids\" is empty (a document needs at least one token)", where);
    if (!has_labels) return document;
    document.labels = read_ids(record["labels"], "labels", where, encoder.vocab_size, true);
    if (document.labels->size() != document.input_ids.size())
        fail("{}: field \"labels\" has {} entries for {} input_ids: one label per token (-100 for no loss)", where,
             document.labels->size(), document.input_ids.size());
    return document;
}

// A JSON record of a line, or nothing for a blank line; "file:line: not valid JSON: ..." else.
static std::optional<json> parse_jsonl_line(std::string_view line, const std::string& where) {
    if (is_blank(line)) return std::nullopt;
    try {
        return json::parse(line);
    } catch (const json::exception& error) {  // parse_error, or out_of_range for 1e999
        // nlohmann's message starts with "[json.exception.parse_error.101] ": keep what follows.
        const std::string message = error.what();
        const size_t bracket = message.find("] ");
        fail("{}: not valid JSON: {}", where, bracket == std::string::npos ? message : message.substr(bracket + 2));
    }
}

std::optional<Document> read_jsonl_line(std::string_view line, const std::string& where, const TextEncoder& encoder) {
    const std::optional<json> record = parse_jsonl_line(line, where);
    if (!record) return std::nullopt;
    return read_jsonl_record(*record, where, encoder);
}

// A typed dataset's JSONL: every record formatted (dataset_records.h), then encoded in batches.
static void read_typed_jsonl_file(const fs::path& path, const PrepareOptions& options, DocumentSink& sink) {
    std::ifstream stream = open_input(path);
    std::string line;
    for (int64_t line_number = 1; std::getline(stream, line); line_number++) {
        const std::string where = fmt::format("{}:{}", path.string(), line_number);
        const std::optional<json> record = parse_jsonl_line(line, where);
        if (!record) continue;
        sink.add_record(format_record(*record, options.format, options.chat_template, where), where, path);
    }
    if (stream.bad()) fail("{}: read error", path.string());
}

static void read_jsonl_file(const fs::path& path, DocumentSink& sink) {
    std::ifstream stream = open_input(path);
    std::string line;
    for (int64_t line_number = 1; std::getline(stream, line); line_number++) {
        const std::optional<Document> document =
            read_jsonl_line(line, fmt::format("{}:{}", path.string(), line_number), sink.encoder);
        if (!document) continue;
        std::optional<std::span<const int32_t>> labels;
        if (document->labels) labels = std::span<const int32_t>(*document->labels);
        sink.add(document->input_ids, labels, path);
    }
    if (stream.bad()) fail("{}: read error", path.string());
}

// --- prepare ------------------------------------------------------------------------------------

// Removes the temporary file when it is still there: a failure before the rename.
struct RemoveOnFailure {
    std::string path;
    ~RemoveOnFailure() {
        std::error_code ignored;
        fs::remove(path, ignored);
    }
};

PrepareSummary prepare_dataset(const std::vector<std::string>& inputs, const std::string& output,
                               const TextEncoder& encoder, const PrepareOptions& options) {
    if (!encoder.encode || encoder.vocab_size <= 0)
        fail("prepare: tokenizer '{}' has no encode function or vocab_size {} <= 0", encoder.name, encoder.vocab_size);
    if (fs::is_directory(output)) fail("{}: is a folder, expected the path of the .h5 file to write", output);
    if (fs::exists(output) && !options.overwrite)
        fail("{}: exists already (pass --overwrite to replace it, or choose another output)", output);
    const std::vector<fs::path> files = expand_inputs(inputs);

    const fs::path parent = fs::path(output).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    // Next to the output, so the rename stays on one file system and is atomic.
    RemoveOnFailure temporary{fmt::format("{}.partial-{}", output, ::getpid())};
    PrepareSummary summary;
    {
        TokenDatasetWriter writer(temporary.path, encoder.vocab_size, encoder.name, options.chunk_elements,
                                  encoder.sha256);
        DocumentSink sink{writer, encoder, options.verbose};
        const bool typed = options.format.type != DatasetType::tokens;
        for (const fs::path& file : files) {
            if (typed && !is_jsonl(file))
                fail("{}: type {} reads JSONL files (*.jsonl), one record per line", file.string(),
                     name(options.format.type));
            if (typed) {
                read_typed_jsonl_file(file, options, sink);
            } else if (is_jsonl(file)) {
                read_jsonl_file(file, sink);
            } else {
                read_text_file(file, options.split, sink);
            }
        }
        sink.flush();
        if (writer.num_documents() == 0)
            fail("prepare: the inputs hold no document (all {} files empty or blank); nothing written to {}",
                 files.size(), output);
        summary.documents = writer.num_documents();
        summary.tokens = writer.total_tokens();
        summary.max_document_length = sink.max_document_length;
        summary.mean_document_length = double(summary.tokens) / double(summary.documents);
        summary.text_bytes = sink.text_bytes;
        summary.encode_seconds = sink.encode_seconds;
        summary.threads = omp_get_max_threads();
        writer.finish();
    }
    std::error_code error;
    fs::rename(temporary.path, output, error);
    if (error) fail("{}: cannot rename {} to it: {}", output, temporary.path, error.message());

    summary.tokenizer = encoder.name;
    summary.output = output;
    if (options.verbose) fmt::print("{}\n", format_summary(summary));
    return summary;
}

}  // namespace ringlm
