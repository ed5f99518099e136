// ringlm train CONFIG.yaml   — SFT / pre-training, sequence-parallel across the ranks.
// ringlm eval CONFIG.yaml [--checkpoint PATH]   — mean loss and perplexity on the eval split.
#include "cli/commands.h"
#include "config/config.h"
#include "model/pretrained.h"
#include "train/checkpoint.h"
#include "train/evaluation.h"
#include "train/trainer.h"

#include <fmt/core.h>

#include <filesystem>
#include <optional>

namespace ringlm {

// A bad config is the same on every rank: say it once.
Config load_config_uniform(const std::string& path) {
    try {
        return load_config(path);
    } catch (const UniformError&) {
        throw;
    } catch (const Error& error) {
        throw UniformError(error.what());
    }
}

namespace {

void run_train(const std::string& path) {
    TrainingSetup setup = make_training_setup(load_config_uniform(path), true);
    const RunSummary summary = run_training(setup);
    if (setup.topology.rank == 0 && !summary.steps.empty())
        fmt::print("trained steps {}..{}: loss {:.4f} -> {:.4f}; outputs in {}\n", summary.first_step + 1,
                   summary.last_step, summary.steps.front().loss, summary.steps.back().loss,
                   setup.config.output.output_dir);
}

// --checkpoint as given: a checkpoint file, a Hugging Face model folder (config.json), or a
// run's output folder (its latest checkpoint). Checked here so the error names the flag, not
// the base_model it replaces.
std::string checkpoint_to_evaluate(const std::string& checkpoint) {
    std::error_code error;
    if (!std::filesystem::exists(checkpoint, error)) fail_uniform("--checkpoint {}: no such file", checkpoint);
    if (!std::filesystem::is_directory(checkpoint, error)) return checkpoint;
    if (std::filesystem::exists(std::filesystem::path(checkpoint) / "config.json", error)) return checkpoint;
    if (const std::optional<std::string> latest = latest_checkpoint(checkpoint)) return *latest;
    fail_uniform("--checkpoint {}: a folder without checkpoint-NNNNNNN.h5 files", checkpoint);
}

void run_eval(const std::string& path, const std::string& checkpoint) {
    Config config = load_config_uniform(path);
    if (!checkpoint.empty()) {
        config.model.base_model = checkpoint_to_evaluate(checkpoint);
        config.model.has_model_config = false;
    }
    TrainingSetup setup = make_training_setup(config, false);
    if (setup.topology.rank == 0 && !checkpoint.empty())
        fmt::print("eval: weights from {}\n", config.model.base_model);
    if (setup.split.validation.empty())
        fail_uniform("{}: nothing to evaluate: set val_set_size or test_datasets", config.source);
    const EvalResult result = evaluate(setup);
    if (setup.topology.rank == 0)
        fmt::print("eval: loss {:.4f}, perplexity {:.3f} over {} tokens\n", result.loss, result.perplexity,
                   result.tokens);
}

}  // namespace

void register_train_command(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    CLI::App* command = app.add_subcommand("train", "train (SFT / pre-training) as the YAML config says");
    command->add_option("config", *path, "YAML config (axolotl key names)")->required();
    command->callback([path] { run_train(*path); });
}

void register_eval_command(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto checkpoint = std::make_shared<std::string>();
    CLI::App* command = app.add_subcommand("eval", "mean loss and perplexity on the held-out split");
    command->add_option("config", *path, "YAML config")->required();
    command->add_option("--checkpoint", *checkpoint,
                        "evaluate these weights instead of base_model: a checkpoint file, a Hugging Face model "
                        "folder, or an output_dir (its latest checkpoint)");
    command->callback([path, checkpoint] { run_eval(*path, *checkpoint); });
}

}  // namespace ringlm
