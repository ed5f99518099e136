#include "train/input_checks.h"

#include "data/tokenizer_files.h"
#include "model/hf_hub.h"

#include "util/error.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

namespace ringlm {

namespace fs = std::filesystem;

namespace {

enum class PathKind { file, file_or_folder };

// std::filesystem's throwing calls would say "filesystem error: status: ..." without the key:
// every call here takes an error_code, and every failure names the config file, key and path.
void check_input_path(const Config& config, const std::string& key, const std::string& path, PathKind kind) {
    std::error_code error;
    const fs::file_status status = fs::status(path, error);
    if (status.type() == fs::file_type::not_found) fail("{}: {} '{}' does not exist", config.source, key, path);
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

// Whether a file made with tokenizer (name, sha256) was made with (other_name, other_sha256):
// "bytes" has no file and no hash, so the name decides; two files are the same when their
// SHA-256 is. nullopt: cannot be told (a name or hash missing: written by hand or by an older
// ringlm prepare).
std::optional<bool> same_tokenizer(const std::string& name, const std::string& sha256, const std::string& other_name,
                                   const std::string& other_sha256) {
    if (name.empty() || other_name.empty()) return std::nullopt;
    if (name == "bytes" || other_name == "bytes") return name == other_name;
    if (sha256.empty() || other_sha256.empty()) return std::nullopt;
    return sha256 == other_sha256;
}

}  // namespace

void check_input_paths(const Config& config) {
    if (!config.model.base_model.empty())  // a hub id org/name: its snapshot in the local cache
        check_input_path(config, "base_model", resolve_base_model_path(config.model.base_model),
                         PathKind::file_or_folder);
    if (!config.model.tokenizer.empty() && config.model.tokenizer != "bytes")
        check_input_path(config, "tokenizer", config.model.tokenizer, PathKind::file_or_folder);  // or a model folder
    for (size_t i = 0; i < config.data.datasets.size(); i++)
        check_input_path(config, fmt::format("datasets[{}].path", i), config.data.datasets[i].path, PathKind::file);
    for (size_t i = 0; i < config.data.test_datasets.size(); i++)
        check_input_path(config, fmt::format("test_datasets[{}].path", i), config.data.test_datasets[i].path,
                         PathKind::file);
    const std::string& resume = config.output.resume_from_checkpoint;
    if (!resume.empty() && resume != "auto") check_input_path(config, "resume_from_checkpoint", resume, PathKind::file);
}

std::string config_tokenizer_spec(const Config& config) {
    if (!config.model.tokenizer.empty() || config.model.base_model.empty()) return config.model.tokenizer;
    return tokenizer_or_model_default("", resolve_base_model_path(config.model.base_model));
}

std::unique_ptr<Tokenizer> load_config_tokenizer(const Config& config, int64_t model_vocab_size) {
    const std::string spec = config_tokenizer_spec(config);
    if (spec.empty()) return nullptr;
    return open_tokenizer(spec, model_vocab_size, fmt::format("{}: tokenizer '{}'", config.source, spec));
}

TokenFileChecks::TokenFileChecks(const Config& config, int64_t model_vocab_size, const Tokenizer* tokenizer,
                                 bool rank_zero)
    : source_(config.source), model_vocab_size_(model_vocab_size), tokenizer_(tokenizer), rank_zero_(rank_zero) {}

TokenFileCheck TokenFileChecks::of(const std::string& key) {
    return [this, key](size_t index, const TokenDataset& file) {
        check(fmt::format("{}[{}].path '{}'", key, index, file.path()), file);
    };
}

void TokenFileChecks::check(const std::string& key_and_path, const TokenDataset& file) {
    const std::string where = fmt::format("{}: {}", source_, key_and_path);
    if (file.vocab_size() > model_vocab_size_)
        fail("{}: attribute vocab_size = {} but the model's vocab_size is {}: the file was tokenized for a bigger "
             "vocabulary; re-run `ringlm prepare` with this model's tokenizer, or train a model with vocab_size >= {}",
             where, file.vocab_size(), model_vocab_size_, file.vocab_size());
    if (tokenizer_) {
        const std::optional<bool> same =
            same_tokenizer(file.tokenizer(), file.tokenizer_sha256(), tokenizer_->name(), tokenizer_->sha256());
        if (!same && rank_zero_)
            fmt::print("note: {}: has no tokenizer_sha256 attribute (written by an older ringlm prepare, or by hand; "
                       "its tokenizer attribute says '{}'): not checked against tokenizer '{}'; re-run ringlm prepare "
                       "to have it checked\n",
                       where, or_none(file.tokenizer()), tokenizer_->name());
        if (same == false)
            fail("{}: was tokenized with '{}' (attributes tokenizer, tokenizer_sha256 = {}) but the config's tokenizer "
                 "is '{}' (sha256 {}): re-run `ringlm prepare --tokenizer {}` on its text, or set tokenizer: to the "
                 "one it was made with",
                 where, or_none(file.tokenizer()), or_none(file.tokenizer_sha256()), tokenizer_->name(),
                 or_none(tokenizer_->sha256()), tokenizer_->name());
        return;
    }
    // No tokenizer configured: the files must still agree with each other (with the first).
    if (first_name_.empty()) {
        first_key_and_path_ = key_and_path, first_name_ = file.tokenizer(), first_sha256_ = file.tokenizer_sha256();
        return;
    }
    if (same_tokenizer(file.tokenizer(), file.tokenizer_sha256(), first_name_, first_sha256_) == false)
        fail("{}: was tokenized with '{}' (attributes tokenizer, tokenizer_sha256 = {}) but {} with '{}' "
             "(tokenizer_sha256 = {}): the token files of one run must share a tokenizer; re-run `ringlm prepare` on "
             "one of them with the other's",
             where, file.tokenizer(), or_none(file.tokenizer_sha256()), first_key_and_path_, first_name_,
             or_none(first_sha256_));
}

}  // namespace ringlm
