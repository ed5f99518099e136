// GRPO's rewards (final-answer extraction, the built-ins' formulas), the reward program's
// failure modes (each an Error naming the program and the line), and the repeat sampler.
#include "rl/repeat_sampler.h"
#include "rl/reward_command.h"
#include "rl/rewards.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace ringlm {

namespace {

// The Error message of body(), or "" if it did not throw.
template <typename Body>
std::string error_of(Body&& body) {
    try {
        body();
    } catch (const Error& error) {
        return error.what();
    }
    return "";
}

}  // namespace

TEST(GrpoRewards, FinalAnswerIsTextAfterLastAnswerMarkerElseLastNumber) {
    EXPECT_EQ(final_answer("I think 3 + 4 = 7, so Answer: 7."), "7");
    EXPECT_EQ(final_answer("answer: blue\nanswer: Red  \nmore text"), "Red");
    EXPECT_EQ(final_answer("there were 12 cats and -3.5 dogs"), "-3.5");
    EXPECT_EQ(final_answer("no number here"), "");
    EXPECT_EQ(exact_answer_reward("so the answer: 42", nlohmann::json(42)), 1.0);
    EXPECT_EQ(exact_answer_reward("so the answer: 42.0", nlohmann::json("42")), 1.0);  // numerically equal
    EXPECT_EQ(exact_answer_reward("she had 5 apples", nlohmann::json("6")), 0.0);
    EXPECT_EQ(exact_answer_reward("Answer: Paris", nlohmann::json("paris")), 1.0);
    EXPECT_EQ(exact_answer_reward("", nlohmann::json("")), 0.0);
}

TEST(GrpoRewards, RegexFormatAndLengthFormulas) {
    const nlohmann::json plain = nlohmann::json::object();
    EXPECT_EQ(regex_format_reward("Once upon a time.", plain), 1.0);
    EXPECT_EQ(regex_format_reward("She said \"hi!\"  ", plain), 1.0);
    EXPECT_EQ(regex_format_reward("Once upon a", plain), 0.0);
    const nlohmann::json happy{{"format_regex", "\\bhappy\\b"}};
    EXPECT_EQ(regex_format_reward("the dog was happy today", happy), 1.0);
    EXPECT_EQ(regex_format_reward("the dog was unhappy", happy), 0.0);
    // 1 - |n - target| / max_completion_length; target from the record or max / 4
    EXPECT_DOUBLE_EQ(length_reward(10, nlohmann::json{{"target_length", 10}}, 40), 1.0);
    EXPECT_DOUBLE_EQ(length_reward(20, nlohmann::json{{"target_length", 10}}, 40), 0.75);
    EXPECT_DOUBLE_EQ(length_reward(4, plain, 40), 1.0 - 6.0 / 40);
}

TEST(GrpoRewardCommand, ReadsOneNumberPerLineInOrder) {
    // The program sees the JSON lines: answer with the length of each line's "completion".
    const std::vector<double> rewards = run_reward_command(
        "python3 -c 'import sys, json\nfor l in sys.stdin: print(len(json.loads(l)[\"completion\"]))'",
        {R"({"prompt": "a", "completion": "xyz"})", R"({"prompt": "b", "completion": ""})",
         R"({"prompt": "c", "completion": "hello", "answer": 3})"},
        10.0);
    EXPECT_EQ(rewards, (std::vector<double>{3, 0, 5}));
}

TEST(GrpoRewardCommand, EveryFailureIsAnErrorNamingProgramAndLine) {
    const std::vector<std::string> lines{R"({"completion": "a"})", R"({"completion": "b"})"};
    std::string message = error_of([&] { run_reward_command("cat > /dev/null; exit 3", lines, 5.0); });
    EXPECT_NE(message.find("reward_command 'cat > /dev/null; exit 3': exited with status 3"), std::string::npos) << message;

    message = error_of([&] { run_reward_command("kill -SEGV $$", lines, 5.0); });
    EXPECT_NE(message.find("killed by signal 11"), std::string::npos) << message;

    const auto start = std::chrono::steady_clock::now();
    message = error_of([&] { run_reward_command("sleep 30", lines, 0.5); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_NE(message.find("reward_command 'sleep 30': no answer within 0.5 s"), std::string::npos) << message;
    EXPECT_LT(seconds, 5.0) << "the timeout did not stop the program";

    message = error_of([&] { run_reward_command("echo 1.5; echo abc", lines, 5.0); });
    EXPECT_NE(message.find("output line 2 is 'abc', not a number"), std::string::npos) << message;

    message = error_of([&] { run_reward_command("echo 1", lines, 5.0); });
    EXPECT_NE(message.find("answered 1 lines for 2 completions"), std::string::npos) << message;

    message = error_of([&] { run_reward_command("echo nan; echo 2", lines, 5.0); });
    EXPECT_NE(message.find("output line 1 is 'nan'"), std::string::npos) << message;
}

TEST(GrpoRepeatSampler, SameOnSpRanksDistinctAcrossDpGroupsEveryPromptOncePerEpoch) {
    // 12 prompts, G = 4, 8 sequences per group per step: 2 prompts per group, D = 3: 6 per step.
    RepeatSampler sampler(RepeatSamplerSettings{7, 12, 4, 8, 3}, "test.yaml");
    EXPECT_EQ(sampler.prompts_per_group(), 2);
    EXPECT_EQ(sampler.steps_per_epoch(), 2);
    std::multiset<int64_t> epoch;
    for (int64_t step = 0; step < 2; step++)
        for (int64_t dp = 0; dp < 3; dp++)
            for (int64_t prompt : sampler.prompts(step, dp)) epoch.insert(prompt);
    EXPECT_EQ(epoch.size(), 12u);
    EXPECT_EQ(std::set<int64_t>(epoch.begin(), epoch.end()).size(), 12u) << "a prompt twice in one epoch";
    // deterministic: a second sampler (another rank of the same SP group) deals the same
    RepeatSampler again(RepeatSamplerSettings{7, 12, 4, 8, 3}, "test.yaml");
    EXPECT_EQ(again.prompts(5, 1), sampler.prompts(5, 1));
    EXPECT_NE(sampler.prompts(2, 0), sampler.prompts(0, 0));  // a new permutation next epoch (seeded)

    const std::string message = [] {
        try {
            RepeatSampler bad(RepeatSamplerSettings{7, 12, 3, 8, 1}, "grpo.yaml");
        } catch (const UniformError& error) {
            return std::string(error.what());
        }
        return std::string();
    }();
    EXPECT_NE(message.find("grpo.yaml: trl.num_generations 3 must divide"), std::string::npos) << message;
    EXPECT_NE(message.find("= 8"), std::string::npos) << message;
}

}  // namespace ringlm
