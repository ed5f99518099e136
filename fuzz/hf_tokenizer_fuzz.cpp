// Hugging Face tokenizer.json (src/data/hf_tokenizer_reader.cpp): the input is the JSON text.
// A file that parses must encode any text into ids of its vocabulary and decode them back
// without failing.
#include "data/hf_tokenizer.h"
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    return fuzz::only_ringlm_errors([&] {
        const auto tokenizer = parse_hf_tokenizer(HfTokenizerFiles{fuzz::as_text(data, size), "", ""}, "fuzz.json");
        const std::string texts[] = {"", " ", "Once upon a time", "  \t\n12345 don't", "\xE2\x96\x81\xF0\x9F\x98\x80 \xFF\x80"};
        for (const std::string& text : texts) {
            const std::vector<int32_t> ids = tokenizer->encode(text, true, true);
            for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tokenizer->vocab_size());
            (void)tokenizer->decode(ids);
        }
    });
}
