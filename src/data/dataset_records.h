// One JSONL record of a typed dataset (dataset_format.h) -> the text to tokenize, in spans that
// carry loss or not. Every refusal names `where` ("file:line") and the field:
//   data/chat.jsonl:7: field "messages"[2].role: "bot" is not a known role (...)
#pragma once

#include "data/chat_template.h"
#include "data/dataset_format.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ringlm {

struct FormattedRecord {
    std::vector<TextSpan> spans;
    bool bos = false;          // the tokenizer's BOS first (untrained); chat templates write their own
    bool eos = false;          // the tokenizer's EOS last, trained (completion, alpaca)
};

// `chat_template`: the resolved built-in (resolve_chat_template) for type chat_template.
FormattedRecord format_record(const nlohmann::json& record, const DatasetFormat& format,
                              ChatTemplateName chat_template, const std::string& where);

// The messages of a chat record: field_messages (a list of objects with the mapped role and
// content strings), ShareGPT roles mapped (human -> user, gpt -> assistant), a `field_system`
// string put first as a system message when the messages do not start with one (axolotl).
std::vector<ChatMessage> read_chat_messages(const nlohmann::json& record, const DatasetFormat& format,
                                            const std::string& where);

// axolotl's Alpaca prompt for an instruction and an optional input (empty = none).
std::string alpaca_prompt(const std::string& instruction, const std::string& input);

}  // namespace ringlm
