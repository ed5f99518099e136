// GRPO rewards: the built-ins named in trl.reward_funcs, then trl.reward_command, combined
// as the weighted sum  r = sum_i reward_weights[i] * r_i  (TRL's reward_weights).
//
// Built-ins (each reads only the completion's text and its prompt's record):
//   exact_answer  1 if the completion's final answer equals the record's `answer`, else 0.
//                 Final answer: the text after the LAST "answer:" (any case) up to the end of
//                 that line, trimmed, with a trailing '.' dropped; when there is no "answer:",
//                 the last number in the completion (-?digits[.digits]). Equal: as numbers
//                 when both parse as numbers, else as lower-cased trimmed text.
//   regex_format  1 if the completion contains a match (std::regex_search, ECMAScript) of the
//                 record's `format_regex`, else 0. Without that field the default asks for a
//                 finished sentence: the completion ends with . ! or ? (optionally a closing
//                 quote) and trailing spaces.
//   length        1 - |n - target| / max_completion_length, n = the completion's tokens
//                 without the stop token; target = the record's `target_length` (tokens), by
//                 default max_completion_length / 4. In [0, 1] (1 exactly on target).
#pragma once

#include "config/config.h"
#include "data/tokenizer.h"
#include "rl/prompts.h"
#include "rl/rollout.h"


#include <string>
#include <vector>

namespace ringlm {

std::string final_answer(const std::string& completion);
double exact_answer_reward(const std::string& completion, const nlohmann::json& answer);
double regex_format_reward(const std::string& completion, const nlohmann::json& record);
double length_reward(int64_t completion_tokens, const nlohmann::json& record, int64_t max_completion_length);

// Fields a reward needs in every prompt record (checked when the prompts load).
std::vector<std::string> required_prompt_fields(const GrpoSection& grpo);

struct RewardTable {
    std::vector<std::string> names;               // reward_funcs, then "reward_command"
    std::vector<std::vector<double>> per_function;  // [function][rollout]
    std::vector<double> total;                    // weighted sum per rollout
};

// The completion's text: its tokens without the stop token, decoded after the prompt.
std::string completion_text(const Tokenizer& tokenizer, const Prompt& prompt, const Rollout& rollout);

// Every rank computes the built-ins (deterministic); the reward_command runs on rank 0 of the
// SP group and its answers are broadcast over `sp` (null: one rank). Collective over the world when a
// reward_command is set: if it fails anywhere, every rank throws (collective_error.h).
RewardTable compute_rewards(const GrpoSection& grpo, const std::vector<Prompt>& prompts,
                            const std::vector<Rollout>& rollouts, const Tokenizer& tokenizer, Communicator* sp);

}  // namespace ringlm
