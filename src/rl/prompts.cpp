#include "rl/prompts.h"

#include "util/error.h"

#include <fmt/ranges.h>

#include <fstream>

namespace ringlm {

void read_prompts(std::istream& lines, const std::string& path, const Tokenizer& tokenizer, int64_t max_prompt_tokens,
                  const std::vector<std::string>& required_fields, std::vector<Prompt>& prompts) {
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
        if (!record.is_object() || !record.contains("prompt") || !record["prompt"].is_string())
            fail_uniform("{}: each line must be a JSON object with a string \"prompt\"", where);
        for (const std::string& field : required_fields)
            if (!record.contains(field)) fail_uniform("{}: no \"{}\" field (a configured reward reads it)", where, field);
        Prompt prompt{record["prompt"].get<std::string>(), {}, record, where};
        prompt.tokens = tokenizer.encode(prompt.text, true, false);
        if (static_cast<int64_t>(prompt.tokens.size()) > max_prompt_tokens)
            fail_uniform("{}: the prompt has {} tokens; with trl.max_completion_length the model's max_position "
                         "allows at most {} (shorten it or lower max_completion_length)",
                         where, prompt.tokens.size(), max_prompt_tokens);
        prompts.push_back(std::move(prompt));
    }
}

std::vector<Prompt> load_prompts(const std::vector<std::string>& paths, const Tokenizer& tokenizer,
                                 int64_t max_prompt_tokens, const std::vector<std::string>& required_fields) {
    std::vector<Prompt> prompts;
    for (const std::string& path : paths) {
        std::ifstream file(path);
        if (!file) fail_uniform("{}: cannot open the prompt file (GRPO datasets are JSONL: one {{\"prompt\": ...}} per line)", path);
        read_prompts(file, path, tokenizer, max_prompt_tokens, required_fields, prompts);
    }
    if (prompts.empty()) fail_uniform("{}: no prompts", fmt::join(paths, ", "));
    return prompts;
}

}  // namespace ringlm
