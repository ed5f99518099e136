// GRPO's prompt data: JSONL files, one object per line with a string `prompt` and any other
// fields the rewards read (`answer` for exact_answer, `format_regex` for regex_format,
// `target_length` for length; a reward_command receives them all). Tokenized on load with
// the config's tokenizer, BOS first.
#pragma once

#include "data/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace ringlm {

struct Prompt {
    std::string text;
    std::vector<int32_t> tokens;  // BOS + encode(text)
    nlohmann::json record;        // the whole JSON object of its line (prompt included)
    std::string where;            // "file:line", for messages
};

// Every line of every file (blank lines skipped). A line that is not a JSON object, lacks a
// string `prompt` or one of `required_fields` (e.g. `answer` when exact_answer is a reward),
// or whose prompt is longer than `max_prompt_tokens` is refused naming file and line.
std::vector<Prompt> load_prompts(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                 int64_t max_prompt_tokens, const std::vector<std::string>& required_fields);

// The prompts of one JSONL stream (`path` names it in messages), appended to `prompts`, with
// the same checks.
void read_prompts(std::istream& lines, const std::string& path, const Tokenizer& tokenizer, int64_t max_prompt_tokens,
                  const std::vector<std::string>& required_fields, std::vector<Prompt>& prompts);

}  // namespace ringlm
