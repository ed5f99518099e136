// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex: what `sha256sum FILE` prints, so a
// user can compare a token file's `tokenizer_sha256` attribute with a tokenizer file by hand.
#pragma once

#include <string>
#include <string_view>

namespace ringlm {

std::string sha256_hex(std::string_view bytes);

}  // namespace ringlm
