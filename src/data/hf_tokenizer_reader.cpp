// Reading a Hugging Face tokenizer.json into the parts of hf_tokenizer_parts.h; everything
// unsupported is refused naming the file and the JSON path. See hf_tokenizer.h.
#include "data/byte_level.h"
#include "data/hf_tokenizer.h"
#include "data/hf_tokenizer_parts.h"
#include "data/unicode_text.h"
#include "util/error.h"
#include "util/sha256.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>

namespace ringlm {

using nlohmann::json;

namespace {

// --- reading the JSON ----------------------------------------------------------------------------

// Where in which file: every refusal names both.
struct JsonPlace {
    const std::string& source;

    [[noreturn]] void refuse(const std::string& path, const std::string& what) const {
        fail("tokenizer {}: {}: {}", source, path, what);
    }
    const json& field(const json& object, const std::string& path, const char* key) const {
        if (!object.is_object() || !object.contains(key)) refuse(path, fmt::format("missing key \"{}\"", key));
        return object[key];
    }
    std::string text(const json& object, const std::string& path, const char* key) const {
        const json& value = field(object, path, key);
        if (!value.is_string()) refuse(path + "." + key, fmt::format("is {}, expected a string", value.type_name()));
        return value.get<std::string>();
    }
    bool flag(const json& object, const std::string& path, const char* key, bool fallback) const {
        if (!object.contains(key) || object[key].is_null()) return fallback;
        if (!object[key].is_boolean()) refuse(path + "." + key, "expected true or false");
        return object[key].get<bool>();
    }
    // A Replace/Split "pattern": {"String": s} (or {"Regex": r} when regex_allowed).
    std::string pattern(const json& object, const std::string& path, bool regex_allowed, bool& is_regex) const {
        const json& value = field(object, path, "pattern");
        is_regex = value.contains("Regex");
        if (value.contains("String") && value["String"].is_string()) return value["String"].get<std::string>();
        if (regex_allowed && is_regex && value["Regex"].is_string()) return value["Regex"].get<std::string>();
        refuse(path + ".pattern", regex_allowed ? "expected {\"String\": ...} or {\"Regex\": ...}"
                                                : "only {\"String\": ...} is supported here (a Regex is not)");
    }
};

// A top-level component, null when absent.
const json& component(const json& file, const char* key) {
    static const json absent;
    return file.contains(key) ? file[key] : absent;
}

// A component that is null, one step, or a Sequence of steps (under `list_key`).
template <typename ReadStep>
void read_steps(const json& value, const std::string& path, const char* list_key, const JsonPlace& place, ReadStep read) {
    if (value.is_null()) return;
    if (place.text(value, path, "type") == "Sequence") {
        const json& steps = place.field(value, path, list_key);
        if (!steps.is_array()) place.refuse(path + "." + list_key, "expected an array");
        for (size_t i = 0; i < steps.size(); i++) read(steps[i], fmt::format("{}.{}[{}]", path, list_key, i));
        return;
    }
    read(value, path);
}

void read_normalizers(const json& file, const JsonPlace& place, HfTokenizer& tokenizer) {
    read_steps(component(file, "normalizer"), "normalizer", "normalizers", place, [&](const json& step, const std::string& path) {
        const std::string type = place.text(step, path, "type");
        NormalizerStep read;
        read.kind = NormalizerStep::unicode_form;
        if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
            read.form = type == "NFC" ? UnicodeForm::nfc : type == "NFD" ? UnicodeForm::nfd
                        : type == "NFKC" ? UnicodeForm::nfkc : UnicodeForm::nfkd;
        } else if (type == "Prepend") {
            read.kind = NormalizerStep::prepend;
            read.text = place.text(step, path, "prepend");
        } else if (type == "Replace") {
            bool is_regex = false;
            read.kind = NormalizerStep::replace;
            read.text = place.pattern(step, path, false, is_regex);
            read.replacement = place.text(step, path, "content");
        } else {
            place.refuse(path + ".type", fmt::format("normalizer \"{}\" is not supported (supported: NFC, NFD, NFKC, "
                                                     "NFKD, Prepend, Replace with a String pattern, Sequence)", type));
        }
        tokenizer.normalizers.push_back(std::move(read));
    });
}

PreTokenizerStep::Prepend read_prepend_scheme(const json& step, const std::string& path, const JsonPlace& place) {
    // older files say add_prefix_space instead of prepend_scheme
    if (!step.contains("prepend_scheme"))
        return place.flag(step, path, "add_prefix_space", true) ? PreTokenizerStep::always : PreTokenizerStep::never;
    const std::string scheme = place.text(step, path, "prepend_scheme");
    if (scheme == "always") return PreTokenizerStep::always;
    if (scheme == "first") return PreTokenizerStep::first;
    if (scheme == "never") return PreTokenizerStep::never;
    place.refuse(path + ".prepend_scheme", fmt::format("\"{}\" is not one of always, first, never", scheme));
}

void read_pre_tokenizers(const json& file, const JsonPlace& place, HfTokenizer& tokenizer) {
    read_steps(component(file, "pre_tokenizer"), "pre_tokenizer", "pretokenizers", place, [&](const json& step, const std::string& path) {
        const std::string type = place.text(step, path, "type");
        PreTokenizerStep read;
        read.kind = PreTokenizerStep::split;
        if (type == "Split") {
            bool is_regex = false;
            const std::string pattern = place.pattern(step, path, true, is_regex);
            const std::string behavior = place.text(step, path, "behavior");
            if (behavior != "Isolated")
                place.refuse(path + ".behavior", fmt::format("\"{}\" is not supported (only Isolated)", behavior));
            if (place.flag(step, path, "invert", false)) place.refuse(path + ".invert", "true is not supported");
            read.regex = compile_split_regex(pattern, !is_regex, fmt::format("tokenizer {}: {}.pattern", place.source, path));
        } else if (type == "ByteLevel") {
            read.kind = PreTokenizerStep::byte_level;
            read.add_prefix_space = place.flag(step, path, "add_prefix_space", true);
            if (place.flag(step, path, "use_regex", true))
                read.regex = compile_split_regex(gpt2_split_pattern(), false, "GPT-2 pre-tokenizer regex");
            tokenizer.model.byte_level = true;
        } else if (type == "Metaspace") {
            read.kind = PreTokenizerStep::metaspace;
            read.replacement = place.text(step, path, "replacement");
            read.prepend = read_prepend_scheme(step, path, place);
            read.split_on_replacement = place.flag(step, path, "split", true);
            tokenizer.strip_space_after_added = read.prepend == PreTokenizerStep::always;
        } else {
            place.refuse(path + ".type", fmt::format("pre-tokenizer \"{}\" is not supported (supported: Split with "
                                                     "behavior Isolated, ByteLevel, Metaspace, Sequence)", type));
        }
        tokenizer.pre_tokenizers.push_back(std::move(read));
    });
    for (const NormalizerStep& step : tokenizer.normalizers)
        if (step.kind == NormalizerStep::prepend) tokenizer.strip_space_after_added = true;
}

// ids index text_of_id: keep a corrupt file from asking for gigabytes
constexpr int64_t max_token_id = 1 << 24;

int32_t read_id(const json& value, const std::string& path, const JsonPlace& place) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() >= max_token_id)
        place.refuse(path, fmt::format("{} is not a token id (an integer 0..{})", value.dump(), max_token_id - 1));
    return static_cast<int32_t>(value.get<int64_t>());
}

void set_text(HfTokenizer& tokenizer, int32_t id, std::string text) {
    if (static_cast<int64_t>(tokenizer.text_of_id.size()) <= id) tokenizer.text_of_id.resize(id + 1);
    tokenizer.text_of_id[id] = std::move(text);
}

// A vocabulary string as the model stores it: bytes for a byte-level model.
std::string model_form(const HfTokenizer& tokenizer, const std::string& token, const std::string& path, const JsonPlace& place) {
    if (!tokenizer.model.byte_level) return token;
    std::optional<std::string> bytes = byte_level_to_bytes(token);
    if (!bytes) place.refuse(path, fmt::format("\"{}\" holds a character outside the byte-level alphabet", token));
    return *bytes;
}

int32_t vocab_id(const HfTokenizer& tokenizer, const std::string& token, const std::string& path, const JsonPlace& place) {
    const auto found = tokenizer.model.id_of.find(model_form(tokenizer, token, path, place));
    if (found == tokenizer.model.id_of.end()) place.refuse(path, fmt::format("\"{}\" is not in model.vocab", token));
    return found->second;
}

void read_merges(const json& merges, const JsonPlace& place, HfTokenizer& tokenizer) {
    if (!merges.is_array()) place.refuse("model.merges", "expected an array");
    tokenizer.model.merges.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); rank++) {
        const std::string path = fmt::format("model.merges[{}]", rank);
        const json& merge = merges[rank];
        std::string left, right;
        if (merge.is_string()) {  // "left right"
            const std::string& pair = merge.get_ref<const std::string&>();
            const size_t space = pair.find(' ');
            if (space == std::string::npos || pair.find(' ', space + 1) != std::string::npos)
                place.refuse(path, fmt::format("\"{}\" is not two tokens separated by one space", pair));
            left = pair.substr(0, space), right = pair.substr(space + 1);
        } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
            left = merge[0].get<std::string>(), right = merge[1].get<std::string>();
        } else {
            place.refuse(path, "expected \"left right\" or [\"left\", \"right\"]");
        }
        const int32_t left_id = vocab_id(tokenizer, left, path, place), right_id = vocab_id(tokenizer, right, path, place);
        const int32_t merged = vocab_id(tokenizer, left + right, path, place);
        // as the Rust HashMap is built: a repeated pair keeps its last rank
        tokenizer.model.merges.insert_or_assign(merge_key(left_id, right_id), BpeMerge{static_cast<int32_t>(rank), merged});
    }
}

// The 256 single-byte tokens a byte-level model starts from, or SentencePiece's <0xNN> pieces.
void read_byte_ids(const JsonPlace& place, HfTokenizer& tokenizer) {
    BpeModel& model = tokenizer.model;
    model.byte_ids.fill(-1);
    if (!model.byte_level && !model.byte_fallback) return;
    for (int byte = 0; byte < 256; byte++) {
        const std::string token = model.byte_level ? std::string(1, static_cast<char>(byte)) : fmt::format("<0x{:02X}>", byte);
        const auto found = model.id_of.find(token);
        if (found == model.id_of.end())
            place.refuse("model.vocab", model.byte_level ? fmt::format("has no token for byte {} (\"{}\"): not a complete "
                                                                       "byte-level vocabulary", byte, byte_level_alphabet()[byte])
                                                         : fmt::format("has no \"{}\" piece, which byte_fallback needs", token));
        model.byte_ids[byte] = found->second;
    }
}

void read_model(const json& file, const JsonPlace& place, HfTokenizer& tokenizer) {
    const json& model = place.field(file, "(top level)", "model");
    const std::string type = model.contains("type") ? place.text(model, "model", "type") : "BPE";
    if (type != "BPE")
        place.refuse("model.type", fmt::format("model \"{}\" is not supported (only BPE: no Unigram, WordPiece, WordLevel)", type));
    if (model.contains("dropout") && !model["dropout"].is_null() && !(model["dropout"].is_number() && model["dropout"].get<double>() == 0))
        place.refuse("model.dropout", "BPE dropout is not supported (encoding would be random)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (model.contains(key) && !model[key].is_null() && model[key] != "")
            place.refuse(fmt::format("model.{}", key), fmt::format("{} is not supported", model[key].dump()));
    BpeModel& bpe = tokenizer.model;
    bpe.byte_fallback = place.flag(model, "model", "byte_fallback", false);
    bpe.fuse_unk = place.flag(model, "model", "fuse_unk", false);
    bpe.ignore_merges = place.flag(model, "model", "ignore_merges", false);
    if (bpe.byte_level && bpe.byte_fallback) place.refuse("model.byte_fallback", "true with a ByteLevel pre-tokenizer is not supported");

    const json& vocab = place.field(model, "model", "vocab");
    if (!vocab.is_object()) place.refuse("model.vocab", "expected an object {token: id}");
    bpe.id_of.reserve(vocab.size());
    for (const auto& [token, id_value] : vocab.items()) {
        const std::string path = fmt::format("model.vocab[\"{}\"]", token);
        const int32_t id = read_id(id_value, path, place);
        std::string form = model_form(tokenizer, token, path, place);
        set_text(tokenizer, id, form);
        bpe.id_of.insert_or_assign(std::move(form), id);
    }
    read_merges(place.field(model, "model", "merges"), place, tokenizer);
    read_byte_ids(place, tokenizer);
    if (model.contains("unk_token") && !model["unk_token"].is_null())
        bpe.unk_id = vocab_id(tokenizer, place.text(model, "model", "unk_token"), "model.unk_token", place);
}

void read_added_tokens(const json& file, const JsonPlace& place, HfTokenizer& tokenizer) {
    if (!file.contains("added_tokens") || file["added_tokens"].is_null()) return;
    const json& tokens = file["added_tokens"];
    if (!tokens.is_array()) place.refuse("added_tokens", "expected an array");
    for (size_t i = 0; i < tokens.size(); i++) {
        const std::string path = fmt::format("added_tokens[{}]", i);
        const json& token = tokens[i];
        AddedToken added{place.text(token, path, "content"), read_id(place.field(token, path, "id"), path + ".id", place)};
        if (added.content.empty()) place.refuse(path + ".content", "is empty");
        if (!is_valid_utf8(added.content)) place.refuse(path + ".content", "is not valid UTF-8");
        for (const char* key : {"single_word", "lstrip", "rstrip"})
            if (place.flag(token, path, key, false))
                place.refuse(path + "." + key, "true is not supported (the Llama, Qwen and Mistral files have false)");
        if (place.flag(token, path, "normalized", false) && !tokenizer.normalizers.empty())
            place.refuse(path + ".normalized", "true with a normalizer is not supported");
        set_text(tokenizer, added.id, added.content);
        tokenizer.added.push_back(std::move(added));
    }
    for (size_t i = 0; i < tokenizer.added.size(); i++)
        tokenizer.added_by_first_byte[static_cast<unsigned char>(tokenizer.added[i].content[0])].push_back(static_cast<int32_t>(i));
    for (std::vector<int32_t>& candidates : tokenizer.added_by_first_byte)  // longest first: leftmost-longest matching
        std::stable_sort(candidates.begin(), candidates.end(), [&](int32_t a, int32_t b) {
            return tokenizer.added[a].content.size() > tokenizer.added[b].content.size();
        });
}

// TemplateProcessing's "single": the special tokens before and after the text ($A).
void read_template(const json& step, const std::string& path, const JsonPlace& place, HfTokenizer& tokenizer) {
    const json& single = place.field(step, path, "single");
    const json& specials = place.field(step, path, "special_tokens");
    if (!single.is_array()) place.refuse(path + ".single", "expected an array");
    bool after_text = false;
    for (size_t i = 0; i < single.size(); i++) {
        const std::string item_path = fmt::format("{}.single[{}]", path, i);
        if (single[i].contains("Sequence")) {
            if (after_text || place.text(single[i]["Sequence"], item_path + ".Sequence", "id") != "A")
                place.refuse(item_path, "expected the text ($A) once");
            after_text = true;
            continue;
        }
        const std::string name = place.text(place.field(single[i], item_path, "SpecialToken"), item_path + ".SpecialToken", "id");
        const json& ids = place.field(place.field(specials, path + ".special_tokens", name.c_str()),
                                      fmt::format("{}.special_tokens[\"{}\"]", path, name), "ids");
        if (!ids.is_array()) place.refuse(fmt::format("{}.special_tokens[\"{}\"].ids", path, name), "expected an array");
        for (const json& id : ids)
            (after_text ? tokenizer.suffix_ids : tokenizer.prefix_ids).push_back(read_id(id, item_path, place));
    }
    if (!after_text) place.refuse(path + ".single", "has no text ($A)");
}

void read_post_processor(const json& file, const JsonPlace& place, HfTokenizer& tokenizer) {
    read_steps(component(file, "post_processor"), "post_processor", "processors", place, [&](const json& step, const std::string& path) {
        const std::string type = place.text(step, path, "type");
        if (type == "TemplateProcessing") {
            read_template(step, path, place, tokenizer);
        } else if (type != "ByteLevel") {  // ByteLevel post-processing only trims offsets
            place.refuse(path + ".type", fmt::format("post-processor \"{}\" is not supported (supported: "
                                                     "TemplateProcessing, ByteLevel, Sequence)", type));
        }
    });
}

// "<0xNN>" -> the byte NN
std::optional<char> byte_piece(const std::string& piece) {
    if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return std::nullopt;
    unsigned value = 0;
    for (char c : piece.substr(3, 2)) {
        if (!std::isxdigit(static_cast<unsigned char>(c)) || std::islower(static_cast<unsigned char>(c))) return std::nullopt;
        value = value * 16 + (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'A' + 10);
    }
    return static_cast<char>(value);
}

void replace_in_model_tokens(HfTokenizer& tokenizer, const std::string& from, const std::string& to) {
    for (size_t id = 0; id < tokenizer.text_of_id.size(); id++) {
        if (tokenizer.is_added[id]) continue;
        std::string& text = tokenizer.text_of_id[id];
        for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
    }
}

// The decoder, applied once to every model token's text (added tokens decode to their content).
void read_decoder(const json& file, const JsonPlace& place, HfTokenizer& tokenizer) {
    const json& decoder = component(file, "decoder");
    if (decoder.is_null()) place.refuse("decoder", "null is not supported: the text of the tokens would be unknown");
    read_steps(decoder, "decoder", "decoders", place, [&](const json& step, const std::string& path) {
        const std::string type = place.text(step, path, "type");
        const bool byte_level = tokenizer.model.byte_level;
        if (type == "ByteLevel" && byte_level) return;  // model tokens are already bytes
        if (byte_level) place.refuse(path + ".type", fmt::format("\"{}\" after a ByteLevel pre-tokenizer is not supported", type));
        if (type == "Replace") {
            bool is_regex = false;
            replace_in_model_tokens(tokenizer, place.pattern(step, path, false, is_regex), place.text(step, path, "content"));
        } else if (type == "ByteFallback") {
            for (size_t id = 0; id < tokenizer.text_of_id.size(); id++)
                if (!tokenizer.is_added[id])
                    if (auto byte = byte_piece(tokenizer.text_of_id[id])) tokenizer.text_of_id[id] = std::string(1, *byte);
        } else if (type == "Strip") {
            const bool one_space = place.text(step, path, "content") == " " && step.value("stop", -1) == 0;
            const int start = step.value("start", -1);
            if (!one_space || start < 0 || start > 1) place.refuse(path, "only Strip of content \" \", start 0 or 1, stop 0 is supported");
            tokenizer.strip_first_space = start == 1;
        } else if (type == "Metaspace") {
            replace_in_model_tokens(tokenizer, place.text(step, path, "replacement"), " ");
            tokenizer.strip_first_space = read_prepend_scheme(step, path, place) != PreTokenizerStep::never;
        } else if (type != "Fuse") {
            place.refuse(path + ".type", fmt::format("decoder \"{}\" is not supported (supported: ByteLevel; Replace, "
                                                     "ByteFallback, Fuse, Strip, Metaspace; Sequence)", type));
        }
    });
}

// --- BOS, EOS and stop tokens ----------------------------------------------------------------------

// tokenizer_config.json writes a token as "text" or {"content": "text", ...}; "" = none.
std::string config_token(const json& config, const char* key) {
    if (!config.contains(key)) return "";
    const json& value = config[key];
    if (value.is_string()) return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string()) return value["content"].get<std::string>();
    return "";
}

int32_t id_of_token_text(const HfTokenizer& tokenizer, const std::string& text) {
    for (const AddedToken& added : tokenizer.added)
        if (added.content == text) return added.id;
    const std::optional<std::string> form = tokenizer.model.byte_level ? byte_level_to_bytes(text) : std::optional(text);
    if (form) {
        const auto found = tokenizer.model.id_of.find(*form);
        if (found != tokenizer.model.id_of.end()) return found->second;
    }
    return -1;
}

json parse_json(const std::string& text, const std::string& source) {
    try {
        return json::parse(text);
    } catch (const json::exception& error) {
        fail("{}: not valid JSON: {}", source, error.what());
    }
}

// BOS: what the template puts first. EOS: tokenizer_config.json's eos_token, else config.json's
// (first) eos_token_id. A generation stops at EOS and at every eos_token_id of config.json.
void read_special_ids(const HfTokenizerFiles& files, const std::string& source, HfTokenizer& tokenizer) {
    tokenizer.bos_token = tokenizer.prefix_ids.empty() ? -1 : tokenizer.prefix_ids.front();
    std::vector<int32_t> model_eos;
    if (!files.model_config_json.empty()) {
        const std::string where = source + " (its config.json)";
        const json config = parse_json(files.model_config_json, where);
        const json eos = config.is_object() && config.contains("eos_token_id") ? config["eos_token_id"] : json();
        const JsonPlace place{where};
        if (eos.is_array()) {
            for (size_t i = 0; i < eos.size(); i++) model_eos.push_back(read_id(eos[i], fmt::format("eos_token_id[{}]", i), place));
        } else if (!eos.is_null()) {
            model_eos.push_back(read_id(eos, "eos_token_id", place));
        }
    }
    if (!files.tokenizer_config_json.empty()) {
        const std::string where = source + " (its tokenizer_config.json)";
        const std::string eos = config_token(parse_json(files.tokenizer_config_json, where), "eos_token");
        if (!eos.empty()) {
            tokenizer.eos_token = id_of_token_text(tokenizer, eos);
            if (tokenizer.eos_token < 0) fail("{}: eos_token \"{}\" is not a token of the tokenizer", where, eos);
        }
    }
    if (tokenizer.eos_token < 0 && !model_eos.empty()) tokenizer.eos_token = model_eos.front();
    if (tokenizer.eos_token >= 0) tokenizer.stop_tokens.push_back(tokenizer.eos_token);
    for (int32_t id : model_eos)
        if (std::find(tokenizer.stop_tokens.begin(), tokenizer.stop_tokens.end(), id) == tokenizer.stop_tokens.end())
            tokenizer.stop_tokens.push_back(id);
}

std::unique_ptr<Tokenizer> read_hf_tokenizer(const HfTokenizerFiles& files, const std::string& source) {
    const json file = parse_json(files.tokenizer_json, "tokenizer " + source);
    const JsonPlace place{source};
    if (!file.is_object()) place.refuse("(top level)", "expected a JSON object");
    if (file.contains("truncation") && !file["truncation"].is_null())
        place.refuse("truncation", "is set; ringlm encodes whole documents (set it to null)");
    auto tokenizer = std::make_unique<HfTokenizer>();
    tokenizer->source = source;
    tokenizer->file_sha256 = sha256_hex(files.tokenizer_json);
    read_normalizers(file, place, *tokenizer);
    read_pre_tokenizers(file, place, *tokenizer);
    read_model(file, place, *tokenizer);
    read_added_tokens(file, place, *tokenizer);
    tokenizer->is_added.assign(tokenizer->text_of_id.size(), false);
    for (const AddedToken& added : tokenizer->added) tokenizer->is_added[added.id] = true;
    read_post_processor(file, place, *tokenizer);
    read_decoder(file, place, *tokenizer);
    for (const std::vector<int32_t>* ids : {&tokenizer->prefix_ids, &tokenizer->suffix_ids})
        for (int32_t id : *ids)
            if (id >= tokenizer->vocab_size()) place.refuse("post_processor", fmt::format("id {} is not a token", id));
    read_special_ids(files, source, *tokenizer);
    return tokenizer;
}

}  // namespace

std::unique_ptr<Tokenizer> parse_hf_tokenizer(const HfTokenizerFiles& files, const std::string& source) {
    try {
        return read_hf_tokenizer(files, source);
    } catch (const json::exception& error) {  // a value of an unexpected JSON type somewhere not checked above
        fail("tokenizer {}: unexpected JSON: {}", source, error.what());
    }
}

}  // namespace ringlm
