#include "data/unicode_text.h"

#include "util/error.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace ringlm {

// The length of the well-formed sequence at `at`, or 0 when it is ill-formed; `maximal` gets the
// length of its maximal subpart (how many bytes one U+FFFD replaces), per Unicode table 3-7.
static size_t utf8_sequence(std::string_view bytes, size_t at, size_t& maximal) {
    const unsigned char lead = static_cast<unsigned char>(bytes[at]);
    maximal = 1;
    if (lead < 0x80) return 1;
    int length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead == 0xE0) length = 3, low = 0xA0;
    else if (lead == 0xED) length = 3, high = 0x9F;
    else if (lead >= 0xE1 && lead <= 0xEF) length = 3;
    else if (lead == 0xF0) length = 4, low = 0x90;
    else if (lead == 0xF4) length = 4, high = 0x8F;
    else if (lead >= 0xF1 && lead <= 0xF3) length = 4;
    else return 0;
    for (int i = 1; i < length; i++) {
        if (at + i >= bytes.size()) return 0;
        const unsigned char byte = static_cast<unsigned char>(bytes[at + i]);
        const bool ok = i == 1 ? byte >= low && byte <= high : byte >= 0x80 && byte <= 0xBF;
        if (!ok) return 0;
        maximal = i + 1;
    }
    return length;
}

bool is_valid_utf8(std::string_view bytes) {
    size_t maximal = 0;
    for (size_t at = 0; at < bytes.size();) {
        // ASCII runs first: most text is ASCII
        if (static_cast<unsigned char>(bytes[at]) < 0x80) {
            at++;
            continue;
        }
        const size_t length = utf8_sequence(bytes, at, maximal);
        if (length == 0) return false;
        at += length;
    }
    return true;
}

std::string valid_utf8(std::string_view bytes) {
    if (is_valid_utf8(bytes)) return std::string(bytes);
    std::string text;
    text.reserve(bytes.size() + 16);
    size_t maximal = 0;
    for (size_t at = 0; at < bytes.size();) {
        const size_t length = utf8_sequence(bytes, at, maximal);
        if (length > 0) {
            text.append(bytes.substr(at, length));
            at += length;
        } else {
            text += "\xEF\xBF\xBD";
            at += maximal;
        }
    }
    return text;
}

std::string unicode_normalize(std::string_view text, UnicodeForm form) {
    if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        return std::string(text);
    int options = UTF8PROC_STABLE;
    switch (form) {
        case UnicodeForm::nfc: options |= UTF8PROC_COMPOSE; break;
        case UnicodeForm::nfd: options |= UTF8PROC_DECOMPOSE; break;
        case UnicodeForm::nfkc: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
        case UnicodeForm::nfkd: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t* normalized = nullptr;
    const utf8proc_ssize_t length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                                 static_cast<utf8proc_ssize_t>(text.size()), &normalized,
                                                 static_cast<utf8proc_option_t>(options));
    if (length < 0) fail("unicode normalization failed: {}", utf8proc_errmsg(length));
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(normalized, &std::free);
    return std::string(reinterpret_cast<const char*>(normalized), static_cast<size_t>(length));
}

}  // namespace ringlm
