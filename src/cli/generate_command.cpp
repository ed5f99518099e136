// ringlm generate --model M [--tokenizer T] --prompt "..." [--max-new-tokens N]
//                 [--temperature X] [--top-p P] [--seed S]
// Prints the prompt and its continuation (greedy at temperature 0).
#include "cli/commands.h"
#include "data/tokenizer_files.h"
#include "model/generate.h"
#include "model/pretrained.h"
#include "util/error.h"

#include <fmt/ranges.h>

namespace ringlm {

namespace {

struct GenerateArguments {
    std::string model, tokenizer, prompt;
    SamplingOptions sampling;
    bool print_ids = false;
};

void run_generate(const GenerateArguments& arguments) {
    Llama model = load_base_model(arguments.model, Device::cpu, ModelUse::inference);
    const std::string spec = tokenizer_or_model_default(arguments.tokenizer, arguments.model);
    if (spec.empty())
        fail("generate: --tokenizer is required: {} is not a Hugging Face folder with its own tokenizer.json", arguments.model);
    auto tokenizer = open_tokenizer(spec, model.config.vocab_size);
    const std::vector<int32_t> prompt = tokenizer->encode(arguments.prompt, true, false);
    if (prompt.empty()) fail("generate: the prompt is empty and the tokenizer {} adds no BOS: give a prompt", tokenizer->name());
    SamplingOptions sampling = arguments.sampling;
    sampling.stop_ids = tokenizer->stop_ids();
    const std::vector<int32_t> continuation = generate(model, prompt, sampling);
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), continuation.begin(), continuation.end());
    if (arguments.print_ids) {
        fmt::print("prompt ids: {}\ngenerated ids: {}\n", fmt::join(prompt, " "), fmt::join(continuation, " "));
    }
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
    command->add_option("--prompt", arguments->prompt, "the text to continue")->required();
    command->add_option("--max-new-tokens", arguments->sampling.max_new_tokens, "tokens to generate")
        ->default_val(64)->check(CLI::PositiveNumber);
    command->add_option("--temperature", arguments->sampling.temperature, "0 = greedy")->default_val(0.0)
        ->check(CLI::NonNegativeNumber);
    command->add_option("--top-p", arguments->sampling.top_p, "nucleus sampling mass")->default_val(1.0)
        ->check(CLI::Range(0.0, 1.0));
    command->add_option("--seed", arguments->sampling.seed, "sampling seed")->default_val(0);
    command->add_flag("--print-ids", arguments->print_ids, "also print the prompt and generated token ids");
    command->callback([arguments] { run_generate(*arguments); });
}

}  // namespace ringlm
