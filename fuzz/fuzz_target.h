// What every fuzz target shares. A target feeds libFuzzer's bytes to one parser of outside
// data; a ringlm::Error is the parser refusing bad input, as it should. Anything else is a bug
// libFuzzer reports with the input: a crash, a sanitizer report, a leak, a timeout, another
// exception escaping (std::out_of_range, std::bad_alloc from a size read from the input), or a
// FUZZ_CHECK failing: an invariant the parser promises for what it accepts.
#pragma once

#include "util/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (0)

namespace ringlm::fuzz {

template <typename Body>
int only_ringlm_errors(Body body) {
    try {
        body();
    } catch (const Error&) {
    }
    return 0;
}

inline std::string as_text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

// A file of the source tree (the bundled tokenizer), found through RINGLM_SOURCE_DIR.
inline std::string source_file(const char* relative) { return std::string(RINGLM_SOURCE_DIR) + "/" + relative; }

}  // namespace ringlm::fuzz
