// Hugging Face tokenizers: encoding and decoding with the parts read from tokenizer.json
// (hf_tokenizer_reader.cpp), and finding the files. See hf_tokenizer.h.
#include "data/hf_tokenizer.h"

#include "data/hf_tokenizer_parts.h"
#include "data/unicode_text.h"
#include "util/error.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ringlm {

namespace fs = std::filesystem;

int32_t HfTokenizer::added_at(std::string_view text, size_t at) const {
    for (int32_t index : added_by_first_byte[static_cast<unsigned char>(text[at])]) {
        const std::string& content = added[index].content;
        if (text.compare(at, content.size(), content) == 0) return index;
    }
    return -1;
}

void HfTokenizer::encode_stretch(const std::string& text, size_t start, size_t end, std::vector<std::string>& words,
                                 std::vector<int32_t>& ids) const {
    if (end == start) return;
    words.clear();
    pre_tokenize(pre_tokenizers, normalize(normalizers, text.substr(start, end - start)), start == 0, words);
    for (const std::string& word : words) model.encode_word(word, ids);
}

std::vector<int32_t> HfTokenizer::encode(std::string_view raw_text, bool bos, bool eos) const {
    const std::string text = valid_utf8(raw_text);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    if (bos) ids = prefix_ids;
    std::vector<std::string> words;
    size_t start = 0;  // the text since the last added token
    for (size_t at = 0; at < text.size();) {
        const int32_t index = added_by_first_byte[static_cast<unsigned char>(text[at])].empty() ? -1 : added_at(text, at);
        if (index < 0) {
            at++;
            continue;
        }
        encode_stretch(text, start, at, words, ids);
        ids.push_back(added[index].id);
        at += added[index].content.size();
        start = at;
    }
    encode_stretch(text, start, text.size(), words, ids);
    if (bos) ids.insert(ids.end(), suffix_ids.begin(), suffix_ids.end());
    if (eos && eos_token >= 0) ids.push_back(eos_token);
    return ids;
}

std::string HfTokenizer::decode(int32_t previous, int32_t id) const {
    if (id < 0) fail("tokenizer {}: id {} is negative", source, id);
    // ids past the tokenizer's are the model's padding rows (Qwen): no text
    if (id >= vocab_size() || id == bos_token || id == eos_token) return "";
    const std::string& text = text_of_id[id];
    const bool first = previous < 0 || previous == bos_token ||
                       (strip_space_after_added && previous < vocab_size() && is_added[previous]);
    if (strip_first_space && first && !text.empty() && text[0] == ' ') return text.substr(1);
    return text;
}

// --- the files -----------------------------------------------------------------------------------

static std::string read_file_text(const fs::path& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) fail("tokenizer {}: cannot open for reading", path.string());
    std::stringstream text;
    text << stream.rdbuf();
    if (stream.bad()) fail("tokenizer {}: read error", path.string());
    return text.str();
}

bool is_hf_tokenizer_spec(const std::string& spec) {
    return fs::is_directory(spec) || fs::path(spec).extension() == ".json";
}

std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path) {
    const fs::path file = fs::is_directory(path) ? fs::path(path) / "tokenizer.json" : fs::path(path);
    if (!fs::is_regular_file(file))
        fail("tokenizer {}: {} not found (a tokenizer.json, a model folder holding one, a llama2.c .bin, or \"bytes\")",
             path, file.string());
    HfTokenizerFiles files;
    files.tokenizer_json = read_file_text(file);
    const fs::path folder = file.parent_path();
    if (fs::is_regular_file(folder / "tokenizer_config.json")) files.tokenizer_config_json = read_file_text(folder / "tokenizer_config.json");
    if (fs::is_regular_file(folder / "config.json")) files.model_config_json = read_file_text(folder / "config.json");
    return parse_hf_tokenizer(files, file.string());
}

}  // namespace ringlm
