#include "train/input_checks.h"

#include "util/error.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace ringlm {

namespace fs = std::filesystem;

namespace {

enum class PathKind { file, file_or_folder };

// std::filesystem's throwing calls would say "filesystem error: status: ..." without the key:
// every call here takes an error_code, and every failure names the config file, key and path.
void check_input_path(const Config& config, const std::string& key, const std::string& path, PathKind kind) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (status.type() == fs::file_type::not_found)
        fail("{}: {} '{}' does not exist", config.source, key, path);
    if (error) fail("{}: {} '{}': cannot read: {}", config.source, key, path, error.message());
    if (fs::is_directory(status)) {
        if (kind == PathKind::file) fail("{}: {} '{}': is a folder, expected a file", config.source, key, path);
        fs::directory_iterator listing(path, error);
        if (error) fail("{}: {} '{}': cannot read: {}", config.source, key, path, error.message());
        return;
    }
    if (!fs::is_regular_file(status))
        fail("{}: {} '{}': is not a regular file (a FIFO, socket or device would block or mislead the reader)",
                     config.source, key, path);
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) fail("{}: {} '{}': cannot read: {}", config.source, key, path, std::strerror(errno));
    std::fclose(file);
}

std::string or_none(const std::string& text) { return text.empty() ? "none" : text; }

// A file's tokenizer attributes against the configured tokenizer. "bytes" has no file and no
// hash, so its name decides; two tokenizer files are the same when their SHA-256 is.
void check_token_file_tokenizer(const TokenDataset& file, const Tokenizer& tokenizer, const std::string& where,
                                bool rank_zero) {
    const bool file_bytes = file.tokenizer() == "bytes", config_bytes = tokenizer.name() == "bytes";
    if (file.tokenizer().empty() || (!file_bytes && !config_bytes && file.tokenizer_sha256().empty())) {
        if (rank_zero)
            fmt::print("note: {}: has no tokenizer_sha256 attribute (written by an older ringlm prepare, or by hand; "
                       "its tokenizer attribute says '{}'): not checked against tokenizer '{}'; re-run ringlm prepare "
                       "to have it checked\n",
                       where, or_none(file.tokenizer()), tokenizer.name());
        return;
    }
    if (file_bytes == config_bytes && file.tokenizer_sha256() == tokenizer.sha256()) return;
    fail("{}: was tokenized with '{}' (attributes tokenizer, tokenizer_sha256 = {}) but the config's tokenizer "
                 "is '{}' (sha256 {}): re-run `ringlm prepare --tokenizer {}` on its text, or set tokenizer: to the "
                 "one it was made with",
                 where, or_none(file.tokenizer()), or_none(file.tokenizer_sha256()), tokenizer.name(),
                 or_none(tokenizer.sha256()), tokenizer.name());
}

}  // namespace

void check_input_paths(const Config& config) {
    if (!config.model.base_model.empty())
        check_input_path(config, "base_model", config.model.base_model, PathKind::file_or_folder);
    if (!config.model.tokenizer.empty() && config.model.tokenizer != "bytes")
        check_input_path(config, "tokenizer", config.model.tokenizer, PathKind::file);
    for (size_t i = 0; i < config.data.datasets.size(); i++)
        check_input_path(config, fmt::format("datasets[{}].path", i), config.data.datasets[i].path, PathKind::file);
    for (size_t i = 0; i < config.data.test_datasets.size(); i++)
        check_input_path(config, fmt::format("test_datasets[{}].path", i), config.data.test_datasets[i].path,
                         PathKind::file);
    const std::string& resume = config.output.resume_from_checkpoint;
    if (!resume.empty() && resume != "auto") check_input_path(config, "resume_from_checkpoint", resume, PathKind::file);
}

std::unique_ptr<Tokenizer> load_config_tokenizer(const Config& config, int64_t model_vocab_size) {
    if (config.model.tokenizer.empty()) return nullptr;
    const std::string where = fmt::format("{}: tokenizer '{}'", config.source, config.model.tokenizer);
    return load_tokenizer(config.model.tokenizer, model_vocab_size, where);
}

TokenFileCheck token_file_check(const Config& config, const std::string& key, int64_t model_vocab_size,
                                const Tokenizer* tokenizer, bool rank_zero) {
    return [source = config.source, key, model_vocab_size, tokenizer, rank_zero](size_t index, const TokenDataset& file) {
        const std::string where = fmt::format("{}: {}[{}].path '{}'", source, key, index, file.path());
        if (file.vocab_size() > model_vocab_size)
            fail("{}: attribute vocab_size = {} but the model's vocab_size is {}: the file was tokenized for a "
                         "bigger vocabulary; re-run `ringlm prepare` with this model's tokenizer, or train a model "
                         "with vocab_size >= {}",
                         where, file.vocab_size(), model_vocab_size, file.vocab_size());
        if (tokenizer) check_token_file_tokenizer(file, *tokenizer, where, rank_zero);
    };
}

}  // namespace ringlm
