#include "data/dataset_records.h"

#include "util/error.h"

#include <fmt/ranges.h>

#include <algorithm>

namespace ringlm {

using nlohmann::json;

namespace {

// record[key] as a string; `required` false: "" when absent or null.
std::string string_field(const json& record, const std::string& key, const std::string& where, bool required) {
    if (!record.contains(key) || record[key].is_null()) {
        if (required) fail("{}: field \"{}\" is missing", where, key);
        return "";
    }
    if (!record[key].is_string())
        fail("{}: field \"{}\" is {}, expected a string", where, key, record[key].type_name());
    return record[key].get<std::string>();
}

// axolotl's default role names (ChatTemplatePrompter.roles): ShareGPT's human and gpt too.
std::string map_role(const std::string& role) {
    if (role == "human") return "user";
    if (role == "gpt") return "assistant";
    return role;
}

}  // namespace

std::string alpaca_prompt(const std::string& instruction, const std::string& input) {
    if (input.empty())
        return "Below is an instruction that describes a task. Write a response that appropriately completes the "
               "request.\n\n### Instruction:\n" +
               instruction + "\n\n### Response:\n";
    return "Below is an instruction that describes a task, paired with an input that provides further context. "
           "Write a response that appropriately completes the request.\n\n### Instruction:\n" +
           instruction + "\n\n### Input:\n" + input + "\n\n### Response:\n";
}

std::vector<ChatMessage> read_chat_messages(const json& record, const DatasetFormat& format, const std::string& where) {
    if (!record.contains(format.field_messages))
        fail("{}: field \"{}\" is missing (the list of messages; field_messages names another key)", where,
             format.field_messages);
    const json& list = record[format.field_messages];
    if (!list.is_array())
        fail("{}: field \"{}\" is {}, expected a list of messages", where, format.field_messages, list.type_name());
    if (list.empty()) fail("{}: field \"{}\" is an empty list", where, format.field_messages);
    std::vector<ChatMessage> messages;
    for (size_t i = 0; i < list.size(); i++) {
        const std::string field = fmt::format("\"{}\"[{}]", format.field_messages, i);
        const json& message = list[i];
        if (!message.is_object())
            fail("{}: field {} is {}, expected an object with \"{}\" and \"{}\"", where, field, message.type_name(),
                 format.role_property, format.content_property);
        for (const std::string& key : {format.role_property, format.content_property}) {
            if (!message.contains(key))
                fail("{}: field {}.{} is missing (message_property_mappings maps the keys)", where, field, key);
            if (!message[key].is_string())
                fail("{}: field {}.{} is {}, expected a string", where, field, key, message[key].type_name());
        }
        const std::string& written = message[format.role_property].get_ref<const std::string&>();
        const std::string role = map_role(written);
        if (std::find(chat_roles.begin(), chat_roles.end(), role) == chat_roles.end())
            fail("{}: field {}.{}: \"{}\" is not a known role ({}; ShareGPT's human and gpt)", where, field,
                 format.role_property, written, fmt::join(chat_roles, ", "));
        messages.push_back(ChatMessage{role, message[format.content_property].get<std::string>()});
    }
    const std::string system = string_field(record, format.field_system, where, false);
    if (!system.empty() && messages.front().role != "system")
        messages.insert(messages.begin(), ChatMessage{"system", system});
    return messages;
}

FormattedRecord format_record(const json& record, const DatasetFormat& format, ChatTemplateName chat_template,
                              const std::string& where) {
    if (!record.is_object()) fail("{}: expected a JSON object, found {}", where, record.type_name());
    FormattedRecord formatted;
    switch (format.type) {
        case DatasetType::completion:
            formatted.spans = {TextSpan{string_field(record, format.field, where, true), true}};
            formatted.bos = formatted.eos = true;
            break;
        case DatasetType::alpaca: {
            const std::string instruction = string_field(record, "instruction", where, true);
            const std::string input = string_field(record, "input", where, false);
            const std::string output = string_field(record, "output", where, true);
            formatted.spans = {TextSpan{alpaca_prompt(instruction, input), format.train_on_inputs}};
            if (!output.empty()) formatted.spans.push_back(TextSpan{output, true});
            formatted.bos = formatted.eos = true;
            break;
        }
        case DatasetType::chat_template: {
            const ChatMask mask{format.roles_to_train, format.train_on_eos, format.train_on_inputs};
            formatted.spans = render_chat(chat_template, read_chat_messages(record, format, where), mask, false);
            break;
        }
        case DatasetType::tokens: fail("{}: format_record: a token dataset has no record format", where);
    }
    return formatted;
}

}  // namespace ringlm
