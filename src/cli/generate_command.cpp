// ringlm generate --model M [--tokenizer T] --prompt "..." [--max-new-tokens N]
//                 [--temperature X] [--top-p P] [--seed S]
// ringlm generate --model M --chat "message" [--system "..."] [--chat-template NAME] ...
// Prints the prompt and its continuation (greedy at temperature 0). --chat renders the message
// as a user turn with the chat template's generation prompt (data/chat_template.h) and stops
// at the template's end-of-turn token too; it prints only the answer.
#include "cli/commands.h"
#include "data/chat_template.h"
#include "data/tokenizer_files.h"
#include "model/generate.h"
#include "model/pretrained.h"
#include "util/error.h"

#include <fmt/ranges.h>

#include <algorithm>

namespace ringlm {

namespace {

struct GenerateArguments {
    std::string model, tokenizer, prompt, chat, system, chat_template = "tokenizer_default";
    SamplingOptions sampling;
    bool print_ids = false;
};

void run_generate(const GenerateArguments& arguments) {
    Llama model = load_base_model(arguments.model, Device::cpu, ModelUse::inference);
    const std::string spec = tokenizer_or_model_default(arguments.tokenizer, arguments.model);
    if (spec.empty())
        fail("generate: --tokenizer is required: {} is not a Hugging Face folder with its own tokenizer.json", arguments.model);
    auto tokenizer = open_tokenizer(spec, model.config.vocab_size);
    const bool chat = !arguments.chat.empty();
    SamplingOptions sampling = arguments.sampling;
    sampling.stop_ids = tokenizer->stop_ids();
    std::vector<int32_t> prompt;
    if (chat) {
        const auto configured = static_cast<ChatTemplateName>(
            std::find(chat_template_names.begin(), chat_template_names.end(), arguments.chat_template) -
            chat_template_names.begin());
        const ChatTemplateName chat_template = resolve_chat_template(configured, spec, "generate --chat-template");
        std::vector<ChatMessage> messages;
        if (!arguments.system.empty()) messages.push_back(ChatMessage{"system", arguments.system});
        messages.push_back(ChatMessage{"user", arguments.chat});
        std::string text;
        for (const TextSpan& span : render_chat(chat_template, messages, ChatMask{}, true)) text += span.text;
        prompt = tokenizer->encode(text, false, false);
        sampling.stop_ids.push_back(end_of_turn_id(*tokenizer, chat_template));
    } else {
        prompt = tokenizer->encode(arguments.prompt, true, false);
    }
    if (prompt.empty()) fail("generate: the prompt is empty and the tokenizer {} adds no BOS: give a prompt", tokenizer->name());
    const std::vector<int32_t> continuation = generate(model, prompt, sampling);
    if (arguments.print_ids) {
        fmt::print("prompt ids: {}\ngenerated ids: {}\n", fmt::join(prompt, " "), fmt::join(continuation, " "));
    }
    if (chat) {
        // the answer without the end-of-turn token that stopped it
        std::vector<int32_t> answer = continuation;
        if (!answer.empty() && std::find(sampling.stop_ids.begin(), sampling.stop_ids.end(), answer.back()) !=
                                   sampling.stop_ids.end())
            answer.pop_back();
        fmt::print("{}\n", tokenizer->decode(answer));
        return;
    }
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), continuation.begin(), continuation.end());
    fmt::print("{}\n", tokenizer->decode(all));
}

}  // namespace

void register_generate_command(CLI::App& app) {
    auto arguments = std::make_shared<GenerateArguments>();
    CLI::App* command = app.add_subcommand("generate", "continue a prompt with a model (KV cache, greedy or top-p)");
    command->add_option("--model", arguments->model,
                        "a llama2.c checkpoint (.bin), a ringlm checkpoint (.h5) or a Hugging Face folder")
        ->required()
        ->check(CLI::ExistingPath);
    command->add_option("--tokenizer", arguments->tokenizer,
                        "llama2.c tokenizer file, tokenizer.json, a model folder holding one, or 'bytes' "
                        "(default: the model folder's own tokenizer.json)");
    CLI::Option* prompt = command->add_option("--prompt", arguments->prompt, "the text to continue");
    CLI::Option* chat =
        command->add_option("--chat", arguments->chat, "a user message, rendered with the chat template; prints the answer");
    prompt->excludes(chat);
    command->add_option("--system", arguments->system, "--chat: a system message before it")->needs(chat);
    command->add_option("--chat-template", arguments->chat_template,
                        "--chat: tokenizer_default (the tokenizer_config.json's own, when ringlm knows it), llama3, "
                        "chatml or qwen3")
        ->check(CLI::IsMember(std::vector<std::string>(chat_template_names.begin(), chat_template_names.end())))
        ->needs(chat);
    command->add_option("--max-new-tokens", arguments->sampling.max_new_tokens, "tokens to generate")
        ->default_val(64)->check(CLI::PositiveNumber);
    command->add_option("--temperature", arguments->sampling.temperature, "0 = greedy")->default_val(0.0)
        ->check(CLI::NonNegativeNumber);
    command->add_option("--top-p", arguments->sampling.top_p, "nucleus sampling mass")->default_val(1.0)
        ->check(CLI::Range(0.0, 1.0));
    command->add_option("--seed", arguments->sampling.seed, "sampling seed")->default_val(0);
    command->add_flag("--print-ids", arguments->print_ids, "also print the prompt and generated token ids");
    command->callback([arguments, prompt, chat] {
        if (prompt->count() == 0 && chat->count() == 0) throw CLI::RequiredError("--prompt or --chat");
        run_generate(*arguments);
    });
}

}  // namespace ringlm
