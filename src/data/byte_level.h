// GPT-2's byte-level alphabet (bytes_to_unicode in openai/gpt-2 encoder.py, ByteLevel in
// Hugging Face tokenizers): every byte is shown as one printable character, so a byte-level
// vocabulary is a set of UTF-8 strings. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ')
// stand for themselves; the other 68 bytes, in order, become U+0100, U+0101, ... (space -> 'Ġ').
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace ringlm {

// byte -> its character, UTF-8 encoded.
const std::array<std::string, 256>& byte_level_alphabet();

// The bytes a byte-level string stands for; nullopt when it holds a character outside the
// alphabet (such a token cannot come from bytes: an added token written in the vocabulary).
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace ringlm
