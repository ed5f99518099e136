// UTF-8 helpers for the Hugging Face tokenizers: repairing invalid UTF-8 and Unicode
// normalization (NFC, NFD, NFKC, NFKD through Debian's libutf8proc).
#pragma once

#include <string>
#include <string_view>

namespace ringlm {

// `bytes` with every maximal ill-formed subsequence replaced by U+FFFD, as the WHATWG
// TextDecoder, Python's bytes.decode(errors="replace") and Rust's from_utf8_lossy do (Unicode's
// "substitution of maximal subparts"). Valid UTF-8 comes back unchanged.
std::string valid_utf8(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

enum class UnicodeForm { nfc, nfd, nfkc, nfkd };
// `text` (valid UTF-8) in the normalization form; ASCII text is returned as it is.
std::string unicode_normalize(std::string_view text, UnicodeForm form);

}  // namespace ringlm
