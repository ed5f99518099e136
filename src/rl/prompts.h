// GRPO's prompt data: JSONL files, one object per line with a string `prompt` and any other
// fields the rewards read (`answer` for exact_answer, `format_regex` for regex_format,
// `target_length` for length; a reward_command receives them all). Tokenized on load with
// the config's tokenizer, BOS first. Instead of `prompt` a line may hold chat `messages`
// ([{"role": "system"|"user"|"assistant", "content": "..."}]; ShareGPT's role names human and
// gpt too): they are rendered with the chat template (data/chat_template.h) and its
// generation prompt, and the completion is the assistant's answer.
#pragma once

#include "data/dataset_format.h"
#include "data/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <vector>

namespace ringlm {

struct Prompt {
    std::string text;             // the prompt, or the rendered chat messages
    std::vector<int32_t> tokens;  // BOS + encode(text); a rendered chat: encode(text), the template's BOS in it
    nlohmann::json record;        // the whole JSON object of its line (prompt included)
    std::string where;            // "file:line", for messages
};

// Every line of every file (blank lines skipped). A line that is not a JSON object, lacks a
// string `prompt` or one of `required_fields` (e.g. `answer` when exact_answer is a reward),
// or whose prompt is longer than `max_prompt_tokens` is refused naming file and line.
// `chat_template` gives the built-in template for `messages` lines (and throws, saying why, when
// there is none); empty: such lines are refused.
using ChatTemplateSource = std::function<ChatTemplateName()>;
std::vector<Prompt> load_prompts(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                 int64_t max_prompt_tokens, const std::vector<std::string>& required_fields,
                                 const ChatTemplateSource& chat_template = {});

// The prompts of one JSONL stream (`path` names it in messages), appended to `prompts`, with
// the same checks.
void read_prompts(std::istream& lines, const std::string& path, const Tokenizer& tokenizer, int64_t max_prompt_tokens,
                  const std::vector<std::string>& required_fields, std::vector<Prompt>& prompts,
                  const ChatTemplateSource& chat_template = {});

}  // namespace ringlm
