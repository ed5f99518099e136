// `ringlm prepare`'s JSONL datasets (src/data/prepare.cpp): each line as read_jsonl_line reads
// it, {"text"} tokenized by the bytes tokenizer, {"input_ids", "labels"} checked against a
// vocabulary taken from the first byte. Accepted documents must be what the token file holds:
// ids inside the vocabulary, labels -100 or inside it, one label per id.
#include "data/prepare.h"
#include "data/tokenizer.h"
#include "fuzz_target.h"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    static const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer("bytes");
    if (size == 0) return 0;
    TextEncoder encoder;
    encoder.encode = [](std::string_view text) { return tokenizer->encode(text, true, true); };
    encoder.vocab_size = tokenizer->vocab_size() + data[0];  // at least what the tokenizer gives
    encoder.name = "bytes";
    std::istringstream lines(fuzz::as_text(data + 1, size - 1));
    std::string line;
    for (int64_t number = 1; std::getline(lines, line); number++) {
        fuzz::only_ringlm_errors([&] {
            const std::optional<Document> document = read_jsonl_line(line, "fuzz.jsonl", encoder);
            if (!document) return;
            FUZZ_CHECK(!document->input_ids.empty());
            for (int32_t id : document->input_ids) FUZZ_CHECK(id >= 0 && id < encoder.vocab_size);
            if (!document->labels) return;
            FUZZ_CHECK(document->labels->size() == document->input_ids.size());
            for (int32_t label : *document->labels)
                FUZZ_CHECK(label == ignore_label || (label >= 0 && label < encoder.vocab_size));
        });
    }
    return 0;
}
