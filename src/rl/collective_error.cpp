#include "rl/collective_error.h"

#include "parallel/topology.h"
#include "parallel/watchdog.h"
#include "util/error.h"

#include <climits>

namespace ringlm {

void fail_together(const std::string& error) {
    int rank = 0, world_size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    WatchdogGuard guard("MPI_Allreduce / MPI_Bcast (error status)", world_size);
    int first_failed = error.empty() ? INT_MAX : rank;
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &first_failed, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce (status)");
    if (first_failed == INT_MAX) return;
    const std::string message = broadcast_string(error, first_failed, MPI_COMM_WORLD);
    throw UniformError(fmt::format("rank {}: {}", first_failed, message));
}

}  // namespace ringlm
