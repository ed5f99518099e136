#include "rl/rewards.h"

#include "parallel/collective_error.h"
#include "rl/reward_command.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace ringlm {

namespace {

std::string trim(const std::string& text) {
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    const size_t last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool as_number(const std::string& text, double& value) {
    if (text.empty()) return false;
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    return *end == '\0' && std::isfinite(value);
}

}  // namespace

std::string final_answer(const std::string& completion) {
    const std::string lowered = lower(completion);
    const size_t marker = lowered.rfind("answer:");
    if (marker != std::string::npos) {
        const size_t begin = marker + 7, end = completion.find('\n', begin);
        std::string answer = trim(completion.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
        if (!answer.empty() && answer.back() == '.') answer = trim(answer.substr(0, answer.size() - 1));
        return answer;
    }
    static const std::regex number(R"(-?\d+(\.\d+)?)");
    std::string last;
    for (auto match = std::sregex_iterator(completion.begin(), completion.end(), number);
         match != std::sregex_iterator(); ++match)
        last = match->str();
    return last;
}

double exact_answer_reward(const std::string& completion, const nlohmann::json& answer) {
    const std::string expected = trim(answer.is_string() ? answer.get<std::string>() : answer.dump());
    const std::string given = final_answer(completion);
    double a = 0, b = 0;
    if (as_number(given, a) && as_number(expected, b)) return a == b ? 1.0 : 0.0;
    return lower(given) == lower(expected) && !given.empty() ? 1.0 : 0.0;
}

double regex_format_reward(const std::string& completion, const nlohmann::json& record) {
    static const std::regex finished_sentence(R"([.!?]["']?\s*$)");
    if (record.contains("format_regex") && record["format_regex"].is_string()) {
        const std::string text = record["format_regex"].get<std::string>();
        try {
            const std::regex pattern(text, std::regex::ECMAScript);
            return std::regex_search(completion, pattern) ? 1.0 : 0.0;
        } catch (const std::regex_error& error) {
            fail("regex_format: format_regex '{}' is not a regular expression ({})", text, error.what());
        }
    }
    return std::regex_search(completion, finished_sentence) ? 1.0 : 0.0;
}

double length_reward(int64_t completion_tokens, const nlohmann::json& record, int64_t max_completion_length) {
    double target = static_cast<double>(max_completion_length) / 4.0;
    if (record.contains("target_length") && record["target_length"].is_number())
        target = record["target_length"].get<double>();
    // r = 1 - |n - target| / max_completion_length
    return 1.0 - std::fabs(static_cast<double>(completion_tokens) - target) / static_cast<double>(max_completion_length);
}

std::vector<std::string> required_prompt_fields(const GrpoSection& grpo) {
    std::vector<std::string> fields;
    if (std::find(grpo.reward_funcs.begin(), grpo.reward_funcs.end(), "exact_answer") != grpo.reward_funcs.end())
        fields.push_back("answer");
    return fields;
}

std::string completion_text(const Tokenizer& tokenizer, const Prompt& prompt, const Rollout& rollout) {
    std::string text;
    int32_t previous = prompt.tokens.back();
    for (int64_t i = 0; i < rollout.text_length(); i++) {
        const int32_t id = rollout.completion[static_cast<size_t>(i)];
        text += tokenizer.decode(previous, id);
        previous = id;
    }
    return text;
}

RewardTable compute_rewards(const GrpoSection& grpo, const std::vector<Prompt>& prompts,
                            const std::vector<Rollout>& rollouts, const Tokenizer& tokenizer, Communicator* sp) {
    const size_t n = rollouts.size();
    std::vector<std::string> texts(n);
    for (size_t j = 0; j < n; j++) texts[j] = completion_text(tokenizer, prompts[static_cast<size_t>(rollouts[j].prompt)], rollouts[j]);

    RewardTable table;
    for (const std::string& function : grpo.reward_funcs) {
        std::vector<double> values(n);
        for (size_t j = 0; j < n; j++) {
            const Prompt& prompt = prompts[static_cast<size_t>(rollouts[j].prompt)];
            if (function == "exact_answer") values[j] = exact_answer_reward(texts[j], prompt.record["answer"]);
            else if (function == "regex_format") values[j] = regex_format_reward(texts[j], prompt.record);
            else if (function == "length")
                values[j] = length_reward(rollouts[j].text_length(), prompt.record, grpo.max_completion_length);
            else fail("rewards: no built-in reward '{}'", function);
        }
        table.names.push_back(function);
        table.per_function.push_back(std::move(values));
    }

    if (!grpo.reward_command.empty()) {
        const int sp_rank = sp ? sp->rank() : 0;
        std::vector<double> values(n, 0.0);
        std::string error;
        if (sp_rank == 0) {
            std::vector<std::string> lines(n);
            for (size_t j = 0; j < n; j++) {
                nlohmann::json line = prompts[static_cast<size_t>(rollouts[j].prompt)].record;
                line["completion"] = texts[j];
                lines[j] = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            }
            try {
                values = run_reward_command(grpo.reward_command, lines, grpo.reward_timeout);
            } catch (const Error& failure) {
                error = failure.what();
            }
        }
        fail_together(error);
        if (sp) sp->broadcast(values.data(), static_cast<int64_t>(n * sizeof(double)), 0);
        table.names.push_back("reward_command");
        table.per_function.push_back(std::move(values));
    }

    // r = sum_i w_i r_i
    table.total.assign(n, 0.0);
    for (size_t i = 0; i < table.per_function.size(); i++)
        for (size_t j = 0; j < n; j++) table.total[j] += grpo.reward_weights[i] * table.per_function[i][j];
    return table;
}

}  // namespace ringlm
