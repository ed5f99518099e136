// Encoding and decoding fuzzed text with the bundled tokenizers (src/data/tokenizer.cpp): the
// first byte picks tok512.bin, llama2_tokenizer.bin or "bytes", the rest is the text.
// decode(encode(text)) must give the text back, byte for byte (tokenizer.h's promise); the
// same bytes read as token ids must decode or fail with an Error.
#include "data/tokenizer.h"
#include "fuzz_target.h"

#include <cstring>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    static const std::unique_ptr<Tokenizer> tokenizers[] = {
        load_tokenizer(fuzz::source_file("data/stories260K/tok512.bin")),
        load_tokenizer(fuzz::source_file("data/llama2_tokenizer.bin")), load_tokenizer("bytes")};
    if (size == 0) return 0;
    const Tokenizer& tokenizer = *tokenizers[data[0] % 3];
    const std::string text = fuzz::as_text(data + 1, size - 1);
    return fuzz::only_ringlm_errors([&] {
        const std::vector<int32_t> ids = tokenizer.encode(text, true, false);
        for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tokenizer.vocab_size());
        FUZZ_CHECK(tokenizer.decode(ids) == text);
        std::vector<int32_t> fuzzed_ids(text.size() / 4);
        if (!fuzzed_ids.empty()) std::memcpy(fuzzed_ids.data(), text.data(), fuzzed_ids.size() * 4);
        (void)tokenizer.decode(fuzzed_ids);
    });
}
