#include "rl/prompts.h"

#include "data/chat_template.h"
#include "data/dataset_records.h"
#include "util/error.h"

#include <fmt/ranges.h>

#include <fstream>

namespace ringlm {

// A `messages` line rendered with the template, ending in its generation prompt.
static std::string render_prompt_messages(const nlohmann::json& record, const std::string& where,
                                          const ChatTemplateSource& chat_template) {
    if (!chat_template) fail_uniform("{}: chat \"messages\" need a chat template, and none is configured", where);
    ChatTemplateName name;
    try {
        name = chat_template();
    } catch (const Error& error) {
        fail_uniform("{}: chat \"messages\": {}", where, error.what());
    }
    DatasetFormat format;
    format.type = DatasetType::chat_template;
    std::string text;
    try {
        for (const TextSpan& span : render_chat(name, read_chat_messages(record, format, where), ChatMask{}, true))
            text += span.text;
    } catch (const UniformError&) {
        throw;
    } catch (const Error& error) {
        throw UniformError(error.what());
    }
    return text;
}

void read_prompts(std::istream& lines, const std::string& path, const Tokenizer& tokenizer, int64_t max_prompt_tokens,
                  const std::vector<std::string>& required_fields, std::vector<Prompt>& prompts,
                  const ChatTemplateSource& chat_template) {
    std::string line;
    for (int64_t number = 1; std::getline(lines, line); number++) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = fmt::format("{}:{}", path, number);
        nlohmann::json record;
        try {
            record = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range for 1e999
            fail_uniform("{}: not JSON ({})", where, error.what());
        }
        const bool chat = record.is_object() && record.contains("messages") && !record.contains("prompt");
        if (!chat && (!record.is_object() || !record.contains("prompt") || !record["prompt"].is_string()))
            fail_uniform("{}: each line must be a JSON object with a string \"prompt\" (or chat \"messages\")", where);
        for (const std::string& field : required_fields)
            if (!record.contains(field)) fail_uniform("{}: no \"{}\" field (a configured reward reads it)", where, field);
        Prompt prompt{chat ? render_prompt_messages(record, where, chat_template) : record["prompt"].get<std::string>(),
                      {}, record, where};
        prompt.tokens = tokenizer.encode(prompt.text, !chat, false);
        if (static_cast<int64_t>(prompt.tokens.size()) > max_prompt_tokens)
            fail_uniform("{}: the prompt has {} tokens; with trl.max_completion_length the model's max_position "
                         "allows at most {} (shorten it or lower max_completion_length)",
                         where, prompt.tokens.size(), max_prompt_tokens);
        prompts.push_back(std::move(prompt));
    }
}

std::vector<Prompt> load_prompts(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                 int64_t max_prompt_tokens, const std::vector<std::string>& required_fields,
                                 const ChatTemplateSource& chat_template) {
    std::vector<Prompt> prompts;
    for (const std::string& path : paths) {
        std::ifstream file(path);
        if (!file) fail_uniform("{}: cannot open the prompt file (GRPO datasets are JSONL: one {{\"prompt\": ...}} per line)", path);
        read_prompts(file, path, tokenizer, max_prompt_tokens, required_fields, prompts, chat_template);
    }
    if (prompts.empty()) fail_uniform("{}: no prompts", fmt::join(paths, ", "));
    return prompts;
}

}  // namespace ringlm
