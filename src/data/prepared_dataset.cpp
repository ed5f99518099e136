#include "data/prepared_dataset.h"

#include "util/error.h"
#include "util/sha256.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ringlm {

namespace fs = std::filesystem;

// Raise when what prepare writes for the same inputs changes (templates, masks, encoding).
constexpr std::string_view preparation_version = "ringlm-prepared-1";

static std::string file_sha256(const std::string& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) fail("{}: cannot open for reading", path);
    std::stringstream bytes;
    bytes << stream.rdbuf();
    if (stream.bad()) fail("{}: read error", path);
    return sha256_hex(bytes.str());
}

std::string prepared_dataset_key(const std::vector<std::string>& inputs, const TextEncoder& encoder,
                                 const PrepareOptions& options) {
    const DatasetFormat& format = options.format;
    std::string description = fmt::format(
        "{}\ntokenizer {} {} {} {}\ntype {}\nfield {}\nfield_messages {}\nfield_system {}\nrole {}\ncontent {}\n"
        "chat_template {}\nroles_to_train {}\ntrain_on_eos {}\ntrain_on_inputs {}\nsplit {}\n",
        preparation_version, encoder.sha256.empty() ? encoder.name : encoder.sha256, encoder.vocab_size,
        encoder.bos, encoder.eos, name(format.type), format.field, format.field_messages, format.field_system,
        format.role_property, format.content_property,
        format.type == DatasetType::chat_template ? name(options.chat_template) : "-",
        fmt::join(format.roles_to_train, ","), name(format.train_on_eos), format.train_on_inputs,
        options.split == TextSplit::paragraphs ? "paragraphs" : "file");
    for (const std::string& input : inputs) {
        if (fs::is_directory(input)) fail("{}: a typed dataset is a JSONL file, not a folder", input);
        description += fmt::format("input {}\n", file_sha256(input));
    }
    return sha256_hex(description);
}

PreparedDataset prepare_into_cache(const std::vector<std::string>& inputs, const std::string& prepared_dir,
                                   const TextEncoder& encoder, PrepareOptions options) {
    if (inputs.empty()) fail("prepare: no inputs");
    const std::string key = prepared_dataset_key(inputs, encoder, options);
    const std::string stem = fs::path(inputs.front()).stem().string();
    const fs::path path = fs::path(prepared_dir) / fmt::format("{}-{}.h5", stem, key.substr(0, 16));
    std::error_code error;
    if (fs::is_regular_file(path, error)) return PreparedDataset{path.string(), true};
    if (fs::exists(prepared_dir, error) && !fs::is_directory(prepared_dir, error))
        fail("{}: dataset_prepared_path is not a folder", prepared_dir);
    options.overwrite = false;
    const bool folder_existed = fs::exists(prepared_dir, error);
    try {
        prepare_dataset(inputs, path.string(), encoder, options);
    } catch (const Error&) {
        if (!folder_existed) fs::remove(prepared_dir, error);  // only when empty: nothing left behind
        throw;
    }
    return PreparedDataset{path.string(), false};
}

}  // namespace ringlm
