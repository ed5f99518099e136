// GRPO prompt files (src/rl/prompts.cpp): JSONL read as load_prompts reads a file, with the
// bytes tokenizer, a prompt limit and a required field taken from the first byte; chat
// `messages` lines rendered with chatml.
#include "data/tokenizer.h"
#include "fuzz_target.h"
#include "rl/prompts.h"

#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ringlm;
    static const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer("bytes");
    if (size == 0) return 0;
    const int64_t max_prompt_tokens = data[0] & 0x7f;
    const std::vector<std::string> required_fields =
        data[0] & 0x80 ? std::vector<std::string>{"answer"} : std::vector<std::string>{};
    std::istringstream lines(fuzz::as_text(data + 1, size - 1));
    return fuzz::only_ringlm_errors([&] {
        std::vector<Prompt> prompts;
        read_prompts(lines, "fuzz.jsonl", *tokenizer, max_prompt_tokens, required_fields, prompts,
                     [] { return ChatTemplateName::chatml; });
        for (const Prompt& prompt : prompts) {
            FUZZ_CHECK(int64_t(prompt.tokens.size()) <= max_prompt_tokens);
            FUZZ_CHECK(prompt.record.is_object());
            if (prompt.record.contains("prompt")) {
                FUZZ_CHECK(prompt.record["prompt"] == prompt.text);
            } else {  // chat messages: the template's generation prompt last
                FUZZ_CHECK(prompt.text.ends_with("<|im_start|>assistant\n"));
            }
            for (const std::string& field : required_fields) FUZZ_CHECK(prompt.record.contains(field));
            (void)prompt.record.dump();  // what a reward_command receives
        }
    });
}
