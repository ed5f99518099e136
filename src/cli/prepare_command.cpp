// ringlm prepare --tokenizer FILE|FOLDER|bytes --output OUT.h5 [--split file|paragraphs]
//                [--overwrite] INPUT...
// Text files, folders of them, or JSONL -> the token HDF5 file training reads.
#include "cli/commands.h"
#include "data/prepare.h"
#include "data/tokenizer_files.h"
#include "parallel/communicators.h"


namespace ringlm {

namespace {

struct PrepareArguments {
    std::string tokenizer, output, split = "file";
    std::vector<std::string> inputs;
    bool overwrite = false;
};

void run_prepare(const PrepareArguments& arguments) {
    if (process_rank() != 0) return;  // one writer; prepare is a serial step
    std::shared_ptr<Tokenizer> tokenizer = open_tokenizer(arguments.tokenizer);
    TextEncoder encoder{[tokenizer](std::string_view text) { return tokenizer->encode(text, true, true); },
                        tokenizer->vocab_size(), tokenizer->name(), tokenizer->sha256()};
    PrepareOptions options;
    options.split = text_split_from_name(arguments.split);
    options.overwrite = arguments.overwrite;
    prepare_dataset(arguments.inputs, arguments.output, encoder, options);
}

}  // namespace

void register_prepare_command(CLI::App& app) {
    auto arguments = std::make_shared<PrepareArguments>();
    CLI::App* command = app.add_subcommand("prepare", "tokenize text / JSONL into a token HDF5 file");
    command->add_option("--tokenizer", arguments->tokenizer, "llama2.c tokenizer file, tokenizer.json, a model folder holding one, or 'bytes'")
        ->required();
    command->add_option("--output,-o", arguments->output, "the HDF5 file to write")->required();
    command->add_option("--split", arguments->split, "file: one document per file; paragraphs: per blank-line block")
        ->default_val("file");
    command->add_flag("--overwrite", arguments->overwrite, "replace an existing output file");
    command->add_option("inputs", arguments->inputs, "text files, folders of them, or .jsonl files")->required();
    command->callback([arguments] { run_prepare(*arguments); });
}

}  // namespace ringlm
