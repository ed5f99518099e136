// ringlm's entry point: parse the subcommand, run it, and turn any Error into one line on
// stderr tagged with the rank, then stop every rank with a non-zero code (never a hang).
#include "cli/commands.h"
#include "parallel/mpi_runtime.h"
#include "util/error.h"

#include <fmt/core.h>

#include <exception>

int main(int argc, char** argv) {
    ringlm::MpiRuntime mpi(argc, argv);
    CLI::App app{"ringlm: sequence-parallel (ring attention) training of Llama-family models"};
    app.set_version_flag("--version", std::string("ringlm ") + RINGLM_VERSION);
    app.require_subcommand(1);
    ringlm::register_prepare_command(app);
    ringlm::register_train_command(app);
    ringlm::register_eval_command(app);
    ringlm::register_generate_command(app);
    ringlm::register_export_command(app);
    ringlm::register_bench_command(app);
    ringlm::register_grpo_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        // Every rank parsed the same arguments: rank 0 speaks, all exit with the same code.
        const int code = mpi.rank() == 0 ? app.exit(error) : error.get_exit_code();
        return code;
    } catch (const ringlm::UniformError& error) {
        ringlm::exit_uniform_error(error.what());
    } catch (const std::exception& error) {
        ringlm::abort_all_ranks(error.what());
    }
    return 0;
}
