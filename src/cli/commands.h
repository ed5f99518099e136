// The subcommands of `ringlm`. Each registers itself on the CLI11 app; its callback runs the
// command and throws ringlm::Error on failure (main prints it and stops every rank).
#pragma once

#include <CLI/CLI.hpp>

namespace ringlm {

void register_prepare_command(CLI::App& app);
void register_generate_command(CLI::App& app);
void register_train_command(CLI::App& app);
void register_eval_command(CLI::App& app);
void register_bench_command(CLI::App& app);

}  // namespace ringlm
