// llama2.c tokenizer files (src/data/tokenizer.cpp): the whole file as bytes. A file that loads
// must encode any text into ids of its vocabulary and decode every id it has.
#include "data/tokenizer.h"
#include "fuzz_target.h"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    return fuzz::only_ringlm_errors([&] {
        const std::string bytes = fuzz::as_text(data, size);
        const auto tokenizer = parse_llama2c_tokenizer(bytes, "fuzz.bin");
        // The file's own last bytes as a text: whatever pieces it holds get a chance to merge.
        const std::string texts[] = {"", " ", "Once upon a time", "\xE2\x96\x81\xF0\x9F\x98\x80 \xFF\x80",
                                     bytes.substr(bytes.size() - std::min<size_t>(bytes.size(), 48))};
        for (const std::string& text : texts) {
            const std::vector<int32_t> ids = tokenizer->encode(text, true, true);
            for (int32_t id : ids) FUZZ_CHECK(id >= 0 && id < tokenizer->vocab_size());
            (void)tokenizer->decode(ids);
        }
        for (int32_t id = 0; id < tokenizer->vocab_size(); id++) (void)tokenizer->decode(bos_id, id);
    });
}
