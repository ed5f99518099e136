#include "data/tokenizer_files.h"

#include "data/hf_tokenizer.h"
#include "util/error.h"

#include <filesystem>

namespace ringlm {

std::unique_ptr<Tokenizer> open_tokenizer(const std::string& spec, int64_t vocab_size, const std::string& where) {
    if (spec == "bytes" || !is_hf_tokenizer_spec(spec)) return load_tokenizer(spec, vocab_size, where);
    std::unique_ptr<Tokenizer> tokenizer = load_hf_tokenizer(spec);
    if (vocab_size > 0 && tokenizer->vocab_size() > vocab_size)
        fail("tokenizer {}: has ids up to {} but the model's vocabulary is {} (wrong tokenizer for this model?)",
             tokenizer->name(), tokenizer->vocab_size() - 1, vocab_size);
    return tokenizer;
}

std::string tokenizer_or_model_default(const std::string& tokenizer, const std::string& base_model) {
    if (!tokenizer.empty()) return tokenizer;
    if (!base_model.empty() && std::filesystem::is_regular_file(std::filesystem::path(base_model) / "tokenizer.json"))
        return base_model;
    return "";
}

}  // namespace ringlm
