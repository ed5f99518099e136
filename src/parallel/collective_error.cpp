#include "parallel/collective_error.h"

#include "parallel/topology.h"
#include "parallel/watchdog.h"
#include "util/error.h"

#include <climits>
#include <exception>

namespace ringlm {

namespace {

// The lowest failing rank and its message; rank = INT_MAX when every rank is fine.
struct FirstFailure {
    int rank = INT_MAX;
    std::string message;
};

FirstFailure first_failure(const std::string& error) {
    int rank = 0, world_size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    WatchdogGuard guard("MPI_Allreduce / MPI_Bcast (error status)", world_size);
    FirstFailure first;
    first.rank = error.empty() ? INT_MAX : rank;
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &first.rank, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce (status)");
    if (first.rank == INT_MAX) return first;
    first.message = broadcast_string(error, first.rank, MPI_COMM_WORLD);
    return first;
}

}  // namespace

void fail_together(const std::string& error) {
    const FirstFailure first = first_failure(error);
    if (first.rank != INT_MAX) throw UniformError(fmt::format("rank {}: {}", first.rank, first.message));
}

void check_together(const std::function<void()>& check) {
    std::string error;
    try {
        check();
    } catch (const std::exception& exception) {  // any kind: a rank that skipped the agreement would hang the rest
        error = exception.what();
        if (error.empty()) error = "unknown error";
    }
    const FirstFailure first = first_failure(error);
    if (first.rank == INT_MAX) return;
    if (first.rank == 0) throw UniformError(first.message);
    throw UniformError(fmt::format("rank {}: {}", first.rank, first.message));
}

}  // namespace ringlm
