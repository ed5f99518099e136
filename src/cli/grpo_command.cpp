// ringlm grpo CONFIG.yaml   — GRPO (rl: grpo, settings under trl:), sequence-parallel across the ranks.
#include "cli/commands.h"
#include "rl/grpo_trainer.h"

#include <fmt/core.h>

namespace ringlm {

namespace {

void run_grpo_command(const std::string& path) {
    GrpoSetup setup = make_grpo_setup(load_config_uniform(path));
    const RunSummary summary = run_grpo(setup);
    if (setup.base.topology.rank == 0 && !summary.steps.empty()) {
        const nlohmann::json& first = summary.steps.front().fields;
        const nlohmann::json& last = summary.steps.back().fields;
        fmt::print("grpo steps {}..{}: mean reward {:.4f} -> {:.4f}, kl {:.5f} -> {:.5f}; outputs in {}\n",
                   summary.first_step + 1, summary.last_step, first["reward"].get<double>(),
                   last["reward"].get<double>(), first["kl"].get<double>(), last["kl"].get<double>(),
                   setup.base.config.output.output_dir);
    }
}

}  // namespace

void register_grpo_command(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    CLI::App* command = app.add_subcommand("grpo", "reinforcement learning with GRPO as the YAML config says (rl: grpo)");
    command->add_option("config", *path, "YAML config (axolotl key names, TRL's under trl:)")->required();
    command->callback([path] { run_grpo_command(*path); });
}

}  // namespace ringlm
