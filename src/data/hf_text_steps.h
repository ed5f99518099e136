// The text steps a Hugging Face tokenizer.json runs before its model, on each stretch of text
// between added tokens: normalizers (whole-text rewrites) then pre-tokenizers (cutting the
// text into the words the model encodes one at a time). Only the kinds the Llama, Qwen and
// Mistral files use are here; hf_tokenizer_reader.cpp refuses the others when it reads the file.
#pragma once

#include "data/unicode_text.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

struct NormalizerStep {
    enum Kind { unicode_form, prepend, replace } kind = unicode_form;
    UnicodeForm form = UnicodeForm::nfc;  // unicode_form
    std::string text;                     // prepend: what goes first; replace: what is replaced
    std::string replacement;              // replace: what replaces it
};

// A compiled regular expression: Debian's PCRE2 with UTF and UCP (\s, \p{L}, \p{N} by
// Unicode properties, as Oniguruma uses them in the Rust tokenizers), JIT-compiled. Shared
// read-only by every thread; each match brings its own match data.
struct SplitRegex;
std::shared_ptr<const SplitRegex> compile_split_regex(const std::string& pattern, bool literal, const std::string& where);

struct PreTokenizerStep {
    enum Kind { split, byte_level, metaspace } kind = split;
    std::shared_ptr<const SplitRegex> regex;  // split; byte_level with use_regex (GPT-2's pattern)
    bool add_prefix_space = false;            // byte_level: a space before a piece that starts with none
    std::string replacement;                  // metaspace: what spaces become ("▁")
    enum Prepend { always, first, never } prepend = always;  // metaspace: the replacement put first
    bool split_on_replacement = true;         // metaspace: a word starts at every replacement
};

// GPT-2's pre-tokenizer regex, which ByteLevel with use_regex applies.
const std::string& gpt2_split_pattern();

std::string normalize(const std::vector<NormalizerStep>& steps, std::string text);

// Cuts `text` (valid UTF-8) into words, appended to `words`. `at_text_start`: the text is the
// beginning of the input (Metaspace's prepend_scheme "first" prepends only there).
void pre_tokenize(const std::vector<PreTokenizerStep>& steps, std::string text, bool at_text_start,
                  std::vector<std::string>& words);

}  // namespace ringlm
