#include "data/hf_text_steps.h"

#include "util/error.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace ringlm {

// --- normalizers ---------------------------------------------------------------------------------

static void replace_all(std::string& text, std::string_view from, std::string_view to) {
    if (from.empty() || text.find(from) == std::string::npos) return;
    std::string replaced;
    replaced.reserve(text.size() + text.size() / 4);
    size_t start = 0;
    for (size_t found; (found = text.find(from, start)) != std::string::npos; start = found + from.size()) {
        replaced.append(text, start, found - start);
        replaced.append(to);
    }
    replaced.append(text, start);
    text = std::move(replaced);
}

std::string normalize(const std::vector<NormalizerStep>& steps, std::string text) {
    for (const NormalizerStep& step : steps) {
        switch (step.kind) {
            case NormalizerStep::unicode_form: text = unicode_normalize(text, step.form); break;
            // Prepend leaves an empty text empty (tokenizers' normalizers/prepend.rs)
            case NormalizerStep::prepend: if (!text.empty()) text.insert(0, step.text); break;
            case NormalizerStep::replace: replace_all(text, step.text, step.replacement); break;
        }
    }
    return text;
}

// --- regular expressions -------------------------------------------------------------------------

struct SplitRegex {
    pcre2_code* code = nullptr;
    ~SplitRegex() { pcre2_code_free(code); }
};

// Oniguruma's \s under Unicode (the Rust tokenizers' engine) is the White_Space property.
// PCRE2's \s with UCP also takes U+180E (Mongolian vowel separator, format since Unicode 6.3),
// so \s and \S are spelled out: \s inside a class as these ranges, \S outside one as their
// complement. \S inside a class has no such spelling and is refused.
constexpr const char* white_space = R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

static std::string with_unicode_white_space(const std::string& pattern, const std::string& where) {
    std::string out;
    bool in_class = false;
    for (size_t i = 0; i < pattern.size(); i++) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            const char next = pattern[++i];
            if (next == 's') out += in_class ? std::string(white_space) : fmt::format("[{}]", white_space);
            else if (next == 'S' && !in_class) out += fmt::format("[^{}]", white_space);
            else if (next == 'S') fail("{}: \\S inside a character class is not supported", where);
            else out += {c, next};
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out += c;
            // a ']' or '^]' right after '[' is a literal
            if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
            if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
            continue;
        }
        if (c == '[' && in_class && i + 1 < pattern.size() && pattern[i + 1] == ':') {  // [:alpha:] stays as it is
            const size_t end = pattern.find(":]", i + 2);
            const size_t stop = end == std::string::npos ? pattern.size() : end + 2;
            out.append(pattern, i, stop - i);
            i = stop - 1;
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        out += c;
    }
    return out;
}

std::shared_ptr<const SplitRegex> compile_split_regex(const std::string& given, bool literal, const std::string& where) {
    auto regex = std::make_shared<SplitRegex>();
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    const uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    const std::string pattern = literal ? given : with_unicode_white_space(given, where);
    regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error_code,
                                &error_offset, nullptr);
    if (!regex->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof message);
        fail("{}: the regex does not compile (PCRE2) at offset {}: {}", where, error_offset,
             reinterpret_cast<const char*>(message));
    }
    // JIT where the library has it; pcre2_match falls back to the interpreter otherwise
    pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
    return regex;
}

const std::string& gpt2_split_pattern() {
    static const std::string pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    return pattern;
}

struct MatchData {
    pcre2_match_data* data;
    explicit MatchData(const SplitRegex& regex) : data(pcre2_match_data_create_from_pattern(regex.code, nullptr)) {}
    ~MatchData() { pcre2_match_data_free(data); }
};

// Behavior "Isolated": every match is a word, and so is every stretch between matches.
static void split_isolated(const SplitRegex& regex, const std::string& text, std::vector<std::string>& words) {
    MatchData match(regex);
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t start = 0, kept = 0;  // where the next search starts; the end of what is already a word
    while (start < text.size()) {
        const int found = pcre2_match(regex.code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, match.data, nullptr);
        if (found == PCRE2_ERROR_NOMATCH) break;
        if (found < 0) {
            PCRE2_UCHAR message[256];
            pcre2_get_error_message(found, message, sizeof message);
            fail("pre-tokenizer regex: match failed at byte {}: {}", start, reinterpret_cast<const char*>(message));
        }
        const PCRE2_SIZE* range = pcre2_get_ovector_pointer(match.data);
        if (range[0] > kept) words.emplace_back(text, kept, range[0] - kept);
        if (range[1] > range[0]) {
            words.emplace_back(text, range[0], range[1] - range[0]);
            kept = start = range[1];
        } else {
            // an empty match: step over one character
            start = range[0] + 1;
            while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) start++;
        }
    }
    if (kept < text.size()) words.emplace_back(text, kept);
}

// --- pre-tokenizers ------------------------------------------------------------------------------

// Metaspace: spaces become the replacement, which may go first; with split, each replacement
// starts a word (behavior MergedWithNext).
static void metaspace(const PreTokenizerStep& step, std::string text, bool at_text_start, std::vector<std::string>& words) {
    replace_all(text, " ", step.replacement);
    const bool prepend = step.prepend == PreTokenizerStep::always || (step.prepend == PreTokenizerStep::first && at_text_start);
    if (prepend && !text.empty() && text.compare(0, step.replacement.size(), step.replacement) != 0)
        text.insert(0, step.replacement);
    if (!step.split_on_replacement) {
        if (!text.empty()) words.push_back(std::move(text));
        return;
    }
    size_t start = 0;
    for (size_t found = text.find(step.replacement, 1); found != std::string::npos;
         found = text.find(step.replacement, found + 1)) {
        if (found > start) words.emplace_back(text, start, found - start);
        start = found;
    }
    if (start < text.size()) words.emplace_back(text, start);
}

static void apply_step(const PreTokenizerStep& step, std::string text, bool at_text_start, std::vector<std::string>& words) {
    switch (step.kind) {
        case PreTokenizerStep::split: split_isolated(*step.regex, text, words); return;
        case PreTokenizerStep::byte_level:
            // the mapping to GPT-2's alphabet is implicit: the BPE model works on bytes
            if (step.add_prefix_space && !text.empty() && text[0] != ' ') text.insert(text.begin(), ' ');
            if (step.regex) {
                split_isolated(*step.regex, text, words);
            } else if (!text.empty()) {
                words.push_back(std::move(text));
            }
            return;
        case PreTokenizerStep::metaspace: metaspace(step, std::move(text), at_text_start, words); return;
    }
}

void pre_tokenize(const std::vector<PreTokenizerStep>& steps, std::string text, bool at_text_start,
                  std::vector<std::string>& words) {
    std::vector<std::string> pieces;
    if (!text.empty()) pieces.push_back(std::move(text));
    // each step cuts every piece of the step before; only the first piece starts the text
    for (const PreTokenizerStep& step : steps) {
        std::vector<std::string> cut;
        for (size_t i = 0; i < pieces.size(); i++) apply_step(step, std::move(pieces[i]), at_text_start && i == 0, cut);
        pieces = std::move(cut);
    }
    for (std::string& piece : pieces) words.push_back(std::move(piece));
}

}  // namespace ringlm
