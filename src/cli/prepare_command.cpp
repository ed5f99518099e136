// ringlm prepare --tokenizer FILE|FOLDER|bytes --output OUT.h5 [--split file|paragraphs]
//                [--overwrite] INPUT...
// ringlm prepare --config CONFIG.yaml
// Text files, folders of them, or JSONL -> the token HDF5 file training reads. With --config,
// the config's typed datasets go into its dataset_prepared_path, as `ringlm train` would do.
#include "cli/commands.h"
#include "data/prepare.h"
#include "data/tokenizer_files.h"
#include "parallel/communicators.h"
#include "train/dataset_preparation.h"
#include "util/error.h"


namespace ringlm {

namespace {


struct PrepareArguments {
    std::string config, tokenizer, output, split = "file";
    std::vector<std::string> inputs;
    bool overwrite = false;
};

void run_prepare(const PrepareArguments& arguments) {
    if (process_rank() != 0) return;  // one writer; prepare is a serial step
    if (!arguments.config.empty()) {
        if (!arguments.tokenizer.empty() || !arguments.output.empty() || !arguments.inputs.empty())
            fail("prepare --config: the config names the tokenizer, the inputs and dataset_prepared_path; give no "
                 "--tokenizer, --output or inputs with it");
        const Config config = load_config_uniform(arguments.config);
        const TokenFilePaths paths = prepare_typed_datasets(config, 0);
        if (paths.datasets.empty() && paths.test_datasets.empty())
            fail("{}: no datasets to prepare", arguments.config);
        return;
    }
    if (arguments.tokenizer.empty() || arguments.output.empty() || arguments.inputs.empty())
        fail("prepare: give --tokenizer, --output and inputs (or --config CONFIG.yaml)");
    std::shared_ptr<Tokenizer> tokenizer = open_tokenizer(arguments.tokenizer);
    TextEncoder encoder = make_text_encoder(tokenizer);
    PrepareOptions options;
    options.split = text_split_from_name(arguments.split);
    options.overwrite = arguments.overwrite;
    prepare_dataset(arguments.inputs, arguments.output, encoder, options);
}

}  // namespace

void register_prepare_command(CLI::App& app) {
    auto arguments = std::make_shared<PrepareArguments>();
    CLI::App* command = app.add_subcommand("prepare", "tokenize text / JSONL into a token HDF5 file");
    command->add_option("--config", arguments->config,
                        "prepare the config's typed datasets (type: completion | alpaca | chat_template) into its "
                        "dataset_prepared_path, as train would");
    command->add_option("--tokenizer", arguments->tokenizer, "llama2.c tokenizer file, tokenizer.json, a model folder holding one, or 'bytes'");
    command->add_option("--output,-o", arguments->output, "the HDF5 file to write");
    command->add_option("--split", arguments->split, "file: one document per file; paragraphs: per blank-line block")
        ->default_val("file");
    command->add_flag("--overwrite", arguments->overwrite, "replace an existing output file");
    command->add_option("inputs", arguments->inputs, "text files, folders of them, or .jsonl files");
    command->callback([arguments] { run_prepare(*arguments); });
}

}  // namespace ringlm
