#include "data/byte_level.h"

#include <unordered_map>

namespace ringlm {

static std::string utf8_of(char32_t code_point) {
    std::string text;
    if (code_point < 0x80) {
        text += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
        text += static_cast<char>(0xC0 | (code_point >> 6));
        text += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
        text += static_cast<char>(0xE0 | (code_point >> 12));
        text += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
        text += static_cast<char>(0x80 | (code_point & 0x3F));
    }
    return text;
}

const std::array<std::string, 256>& byte_level_alphabet() {
    static const std::array<std::string, 256> alphabet = [] {
        std::array<std::string, 256> chars;
        char32_t next_unprintable = 0x100;
        for (int byte = 0; byte < 256; byte++) {
            const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
            chars[byte] = utf8_of(printable ? static_cast<char32_t>(byte) : next_unprintable++);
        }
        return chars;
    }();
    return alphabet;
}

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
    static const std::unordered_map<std::string, char> byte_of = [] {
        std::unordered_map<std::string, char> map;
        for (int byte = 0; byte < 256; byte++) map.emplace(byte_level_alphabet()[byte], static_cast<char>(byte));
        return map;
    }();
    std::string bytes;
    bytes.reserve(text.size());
    for (size_t at = 0; at < text.size();) {
        const unsigned char lead = static_cast<unsigned char>(text[at]);
        const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        const auto found = byte_of.find(std::string(text.substr(at, length)));
        if (found == byte_of.end()) return std::nullopt;
        bytes += found->second;
        at += length;
    }
    return bytes;
}

}  // namespace ringlm
