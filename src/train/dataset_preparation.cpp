#include "train/dataset_preparation.h"

#include "data/chat_template.h"
#include "data/prepared_dataset.h"
#include "data/tokenizer_files.h"
#include "parallel/collective_error.h"
#include "parallel/communicators.h"
#include "train/input_checks.h"
#include "util/error.h"

#include <fmt/format.h>

#include <memory>
#include <sstream>

namespace ringlm {

static bool has_typed(const std::vector<DatasetEntry>& entries) {
    for (const DatasetEntry& entry : entries)
        if (entry.format.type != DatasetType::tokens) return true;
    return false;
}

PrepareOptions typed_prepare_options(const DatasetFormat& format, const std::string& tokenizer_spec,
                                     const std::string& where) {
    PrepareOptions options;
    options.format = format;
    if (format.type == DatasetType::chat_template)
        options.chat_template = resolve_chat_template(format.chat_template, tokenizer_spec, where + ".chat_template");
    return options;
}

TokenFilePaths prepare_typed_datasets(const Config& config, int64_t model_vocab_size) {
    TokenFilePaths paths;
    const bool typed = has_typed(config.data.datasets) || has_typed(config.data.test_datasets);
    const std::string spec = config_tokenizer_spec(config);
    std::shared_ptr<const Tokenizer> tokenizer;
    if (typed) {
        if (spec.empty())
            fail("{}: datasets of a type (completion, alpaca, chat_template) are tokenized by train, which needs a "
                 "tokenizer: set tokenizer:, or use a Hugging Face base_model folder with its tokenizer.json",
                 config.source);
        tokenizer = load_config_tokenizer(config, model_vocab_size);
    }
    const auto resolve = [&](const std::string& key, const std::vector<DatasetEntry>& entries,
                             std::vector<std::string>& out) {
        for (size_t i = 0; i < entries.size(); i++) {
            const DatasetEntry& entry = entries[i];
            if (entry.format.type == DatasetType::tokens) {
                out.push_back(entry.path);
                continue;
            }
            const std::string where = fmt::format("{}: {}[{}]", config.source, key, i);
            PrepareOptions options = typed_prepare_options(entry.format, spec, where);
            options.verbose = false;
            if (entry.format.type == DatasetType::chat_template) {
                // The end-of-turn token must be one token of this tokenizer (as axolotl checks its
                // EOT tokens): otherwise the template belongs to another model's vocabulary.
                try {
                    end_of_turn_id(*tokenizer, options.chat_template);
                } catch (const Error& error) {
                    fail("{}.chat_template: {}", where, error.what());
                }
            }
            const PreparedDataset prepared =
                prepare_into_cache({entry.path}, config.data.dataset_prepared_path, make_text_encoder(tokenizer), options);
            const std::string what = entry.format.type == DatasetType::chat_template
                                         ? fmt::format("chat_template, {}", name(options.chat_template))
                                         : std::string(name(entry.format.type));
            fmt::print("{}[{}] {} ({}): {} {}\n", key, i, entry.path, what, prepared.reused ? "reused" : "prepared ->",
                       prepared.path);
            out.push_back(prepared.path);
        }
    };
    resolve("datasets", config.data.datasets, paths.datasets);
    resolve("test_datasets", config.data.test_datasets, paths.test_datasets);
    return paths;
}

TokenFilePaths token_file_paths(const Config& config, int64_t model_vocab_size, bool rank_zero) {
    TokenFilePaths paths;
    for (const DatasetEntry& entry : config.data.datasets) paths.datasets.push_back(entry.path);
    for (const DatasetEntry& entry : config.data.test_datasets) paths.test_datasets.push_back(entry.path);
    if (!has_typed(config.data.datasets) && !has_typed(config.data.test_datasets)) return paths;
    std::string prepared;  // rank 0's paths, one per line: datasets, then test_datasets
    check_together([&] {
        if (!rank_zero) return;
        paths = prepare_typed_datasets(config, model_vocab_size);
        for (const std::string& path : paths.datasets) prepared += path + "\n";
        for (const std::string& path : paths.test_datasets) prepared += path + "\n";
    });
    std::istringstream lines(world_communicator().broadcast(prepared, 0));
    for (std::string& path : paths.datasets) std::getline(lines, path);
    for (std::string& path : paths.test_datasets) std::getline(lines, path);
    return paths;
}

}  // namespace ringlm
