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
    int length = rank == first_failed ? static_cast<int>(error.size()) : 0;
    check_mpi(MPI_Bcast(&length, 1, MPI_INT, first_failed, MPI_COMM_WORLD), "MPI_Bcast (error length)");
    std::string message = rank == first_failed ? error : std::string(static_cast<size_t>(length), ' ');
    check_mpi(MPI_Bcast(message.data(), length, MPI_CHAR, first_failed, MPI_COMM_WORLD), "MPI_Bcast (error)");
    throw UniformError(fmt::format("rank {}: {}", first_failed, message));
}

}  // namespace ringlm
