// ringlm's entry point: parse the subcommand, run it, and turn any Error into one line on
// stderr tagged with the rank, then abort every rank with a non-zero code (never a hang).
#include "parallel/mpi_runtime.h"
#include "util/error.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <exception>

int main(int argc, char** argv) {
    ringlm::MpiRuntime mpi(argc, argv);
    CLI::App app{"ringlm: sequence-parallel (ring attention) training of Llama-family models"};
    app.set_version_flag("--version", std::string("ringlm ") + RINGLM_VERSION);
    app.require_subcommand(0, 1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return mpi.rank() == 0 ? app.exit(error) : (error.get_exit_code() != 0);
    }
    try {
        if (argc == 1 && mpi.rank() == 0) fmt::print("{}", app.help());
    } catch (const std::exception& error) {
        ringlm::abort_all_ranks(error.what());
    }
    return 0;
}
