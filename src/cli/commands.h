// The subcommands of `ringlm`. Each registers itself on the CLI11 app; its callback runs the
// command and throws ringlm::Error on failure (main prints it and stops every rank).
#pragma once

#include "config/config.h"

#include <CLI/CLI.hpp>

#include <string>

namespace ringlm {

void register_prepare_command(CLI::App& app);
void register_generate_command(CLI::App& app);
void register_export_command(CLI::App& app);
void register_train_command(CLI::App& app);
void register_eval_command(CLI::App& app);
void register_bench_command(CLI::App& app);
void register_grpo_command(CLI::App& app);

// load_config, with its errors marked uniform (every rank reads the same file): said once.
Config load_config_uniform(const std::string& path);

}  // namespace ringlm
