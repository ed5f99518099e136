#include "parallel/mpi_runtime.h"

#include "parallel/watchdog.h"

#include <malloc.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <limits>

namespace ringlm {

MpiRuntime::MpiRuntime(int& argc, char**& argv) {
    // Open MPI's collectives allocate their temporary buffers on every call, and glibc serves
    // a block above its mmap threshold (at most 32 MiB) with a fresh mapping that the call then
    // faults in page by page and unmaps on free: the gradient all-reduce (97 MB, 2 ranks, one
    // machine) took 0.25-0.45 s, of which 0.025 s is the reduction (bench/RESULTS.md). So large
    // blocks come from the heap, and freed memory stays there for the next call.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    int provided = 0;
    // FUNNELED: only the main thread calls MPI; OpenMP threads compute. The one exception is
    // the watchdog's MPI_Abort (parallel/watchdog.cpp) from its own thread while the main thread
    // is stuck in MPI: the job ends either way (Open MPI aborts from any thread; should an MPI
    // not, the watchdog kills its own process, which brings the job down too), so a higher
    // level with its locking on every call would buy nothing.
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
    // Errors from MPI calls come back as codes we turn into messages, instead of MPI's own abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

MpiRuntime::~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    // MPI_Finalize waits for every rank to arrive: a rank hung before the end would hold it.
    WatchdogGuard guard("MPI_Finalize", world_size_);
    if (!finalized) MPI_Finalize();
}

void abort_all_ranks(const std::string& message, int code) {
    int initialized = 0, rank = 0, world_size = 1;
    MPI_Initialized(&initialized);
    if (initialized) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    }
    if (world_size > 1) {
        std::fprintf(stderr, "ringlm: error: rank %d: %s\n", rank, message.c_str());
    } else {
        std::fprintf(stderr, "ringlm: error: %s\n", message.c_str());
    }
    std::fflush(stderr);
    if (initialized && world_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);
}

}  // namespace ringlm

namespace ringlm {

void exit_uniform_error(const std::string& message, int code) {
    int initialized = 0, rank = 0;
    MPI_Initialized(&initialized);
    if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) {
        std::fprintf(stderr, "ringlm: error: %s\n", message.c_str());
        std::fflush(stderr);
    }
    int finalized = 0;
    if (initialized) MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
    std::exit(code);
}

}  // namespace ringlm
