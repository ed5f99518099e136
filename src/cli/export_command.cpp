// ringlm export (--checkpoint CKPT.h5 | --model MODEL.bin|HF_FOLDER) --output PATH [--format hf|llama2c]
//               [--dtype f32|bf16] [--tokenizer FILE] [--force]
// A trained model out to other tools: a Hugging Face folder (model.safetensors + config.json;
// transformers, vLLM, llama.cpp's converters) or a llama2.c .bin (run.c). One process writes;
// under mpirun the other ranks do nothing.
#include "cli/commands.h"
#include "model/hf_model.h"
#include "model/llama2c_checkpoint.h"
#include "model/model_file.h"
#include "model/pretrained.h"
#include "parallel/communicators.h"
#include "util/atomic_file.h"

#include <fmt/core.h>

#include <filesystem>

namespace ringlm {

namespace {

namespace fs = std::filesystem;

struct ExportArguments {
    std::string checkpoint, model, output, format = "hf", dtype = "f32", tokenizer;
    bool force = false;
};

// The output may be new, an empty folder (hf), or anything replaceable with --force.
void check_output(const ExportArguments& arguments) {
    const fs::path output = arguments.output;
    std::error_code error;
    const fs::file_status status = fs::status(output, error);
    if (!fs::exists(status)) return;
    if (arguments.format == "hf") {
        if (!fs::is_directory(status))
            fail("--output {}: exists and is not a folder (the hf format writes a folder)", arguments.output);
        if (!fs::is_empty(output, error) && !arguments.force)
            fail("--output {}: exists and is not empty; pass --force to write into it (model.safetensors, "
                 "config.json and the tokenizer file are replaced, nothing else is touched)", arguments.output);
    } else {
        if (fs::is_directory(status))
            fail("--output {}: is a folder; the llama2c format writes one file (e.g. {}/model.bin)", arguments.output,
                 arguments.output);
        if (!arguments.force) fail("--output {}: exists; pass --force to replace it", arguments.output);
    }
}

// The tokenizer to ship or point to: --tokenizer, else the one the checkpoint's training config
// names (`tokenizer:`); "" when neither says.
std::string find_tokenizer(const ExportArguments& arguments, const std::string& input) {
    if (!arguments.tokenizer.empty()) return arguments.tokenizer;
    if (!is_hdf5_file(input)) return "";
    hdf5::File file = hdf5::open_file_readonly(input);
    if (!hdf5::has_attribute(file, "config")) return "";
    try {
        return parse_config(hdf5::read_string_attribute(file, "config"), input + " (its config attribute)").model.tokenizer;
    } catch (const Error& error) {  // an older ringlm's config: the weights still export
        fmt::print("note: cannot read the training config stored in {} ({}): no tokenizer found\n", input, error.what());
        return "";
    }
}

// Hugging Face cannot use a llama2.c tokenizer: say so, and put the file where run.c's -z finds it.
void report_tokenizer(const std::string& tokenizer, const ExportArguments& arguments) {
    const std::string not_hf =
        arguments.format == "hf" ? "not exported in Hugging Face form (ringlm uses llama2.c tokenizer files); " : "";
    if (tokenizer.empty()) {
        fmt::print("tokenizer: {}none known for this model: pass --tokenizer FILE to {} one\n", not_hf,
                   arguments.format == "hf" ? "copy" : "name");
    } else if (tokenizer == "bytes") {
        fmt::print("tokenizer: {}the model uses ringlm's byte tokenizer (byte b = id b+3, BOS 1, EOS 2): no file\n",
                   not_hf);
    } else if (!fs::is_regular_file(tokenizer)) {
        fmt::print("tokenizer: {}the training config names {}, which is not found from here: copy it yourself\n",
                   not_hf, tokenizer);
    } else if (arguments.format == "hf") {
        const std::string copy = (fs::path(arguments.output) / fs::path(tokenizer).filename()).string();
        std::error_code error;
        if (!fs::equivalent(tokenizer, copy, error)) {  // not already there (error: the copy is absent)
            fs::copy_file(tokenizer, copy + ".tmp", fs::copy_options::overwrite_existing, error);
            if (error) fail("{}: cannot copy the tokenizer to {}: {}", tokenizer, copy + ".tmp", error.message());
            commit_file(copy + ".tmp", copy);
        }
        fmt::print("tokenizer: {}copied {} to {} (llama2.c format: run.c -z)\n", not_hf, tokenizer, copy);
    } else {
        fmt::print("tokenizer: {} (run.c {} -z {})\n", tokenizer, arguments.output, tokenizer);
    }
}

void run_export(const ExportArguments& arguments) {
    if (process_rank() != 0) return;  // one writer
    if (arguments.checkpoint.empty() == arguments.model.empty())
        fail("export: give exactly one of --checkpoint (a ringlm HDF5 checkpoint) and --model (a llama2.c .bin or a "
             "Hugging Face folder)");
    const std::string input = arguments.checkpoint.empty() ? arguments.model : arguments.checkpoint;
    const char* option = arguments.checkpoint.empty() ? "--model" : "--checkpoint";
    if (!fs::is_regular_file(input) && !(arguments.checkpoint.empty() && fs::is_directory(input)))
        fail("{} {}: no such file", option, input);
    if (!arguments.checkpoint.empty() && !is_hdf5_file(input))
        fail("--checkpoint {}: not a ringlm checkpoint (HDF5); a llama2.c .bin goes with --model", input);
    if (arguments.format == "llama2c" && arguments.dtype != "f32")
        fail("--dtype {}: the llama2c format holds f32 only", arguments.dtype);
    check_output(arguments);

    const Llama model = load_base_model(input, Device::cpu, ModelUse::inference);
    const ModelConfig& c = model.config;
    fmt::print("export: {} (dim {}, {} layers, {} heads, {} KV heads, vocab {}, {} classifier) -> {} ({}, {})\n",
               input, c.dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.tied_embeddings ? "tied" : "untied",
               arguments.output, arguments.format, arguments.dtype);
    const std::string tokenizer = find_tokenizer(arguments, input);
    std::string weights_path;
    int64_t bytes = 0;
    if (arguments.format == "hf") {
        std::error_code error;
        fs::create_directories(arguments.output, error);
        if (error) fail("--output {}: cannot create the folder: {}", arguments.output, error.message());
        const HfExportSummary summary =
            save_hf_model(arguments.output, model, arguments.dtype == "bf16" ? DType::bf16 : DType::f32);
        weights_path = summary.safetensors_path;
        bytes = summary.safetensors_bytes;
        fmt::print("config: {}\n", summary.config_path);
    } else {
        weights_path = arguments.output;
        bytes = save_llama2c_checkpoint(arguments.output, model);
    }
    report_tokenizer(tokenizer, arguments);
    fmt::print("exported {} tensors, {} parameters, {} bytes to {}\n", model.named.size(), model.n_parameters(), bytes,
               weights_path);
}

}  // namespace

void register_export_command(CLI::App& app) {
    auto arguments = std::make_shared<ExportArguments>();
    CLI::App* command = app.add_subcommand(
        "export", "write a model for other tools: Hugging Face safetensors + config.json, or a llama2.c .bin");
    command->add_option("--checkpoint", arguments->checkpoint, "a ringlm checkpoint (HDF5) to export");
    command->add_option("--model", arguments->model, "a llama2.c checkpoint (.bin) or a Hugging Face folder to export");
    command->add_option("--output,-o", arguments->output, "hf: the folder to write; llama2c: the .bin file")
        ->required();
    command->add_option("--format", arguments->format, "hf (transformers, vLLM, llama.cpp converters) or llama2c")
        ->check(CLI::IsMember({"hf", "llama2c"}))->default_val("hf");
    command->add_option("--dtype", arguments->dtype, "weights as f32, or bf16 (round to nearest even; hf only)")
        ->check(CLI::IsMember({"f32", "bf16"}))->default_val("f32");
    command->add_option("--tokenizer", arguments->tokenizer,
                        "llama2.c tokenizer file to copy (hf) or name (llama2c); default: the checkpoint's config's");
    command->add_flag("--force", arguments->force, "write into a non-empty output folder / replace an output file");
    command->callback([arguments] { run_export(*arguments); });
}

}  // namespace ringlm
