#include "parallel/topology.h"

#include "parallel/watchdog.h"
#include "util/error.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <climits>
#include <string>
#include <vector>

namespace ringlm {

MpiComm::~MpiComm() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

MpiComm& MpiComm::operator=(MpiComm&& other) noexcept {
    std::swap(comm_, other.comm_);
    return *this;
}

void check_mpi(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    fail("{} failed: {}", what, std::string(text, length));
}

void split_usp_groups(MPI_Comm sp_comm, int ulysses_degree, MpiComm& ulysses_comm, MpiComm& ring_comm) {
    int sp_rank = 0, sp_size = 1;
    MPI_Comm_rank(sp_comm, &sp_rank);
    MPI_Comm_size(sp_comm, &sp_size);
    const int U = ulysses_degree;
    if (U < 1 || sp_size % U != 0) fail("ulysses_degree {} must divide sequence_parallel_degree {}", U, sp_size);
    WatchdogGuard guard("MPI_Comm_split (Ulysses and ring groups)", sp_size);
    MPI_Comm comm;
    check_mpi(MPI_Comm_split(sp_comm, sp_rank / U, sp_rank, &comm), "MPI_Comm_split (Ulysses group)");
    ulysses_comm = MpiComm(comm);
    check_mpi(MPI_Comm_split(sp_comm, sp_rank % U, sp_rank, &comm), "MPI_Comm_split (ring group)");
    ring_comm = MpiComm(comm);
}

Topology make_topology(int sequence_parallel_degree, const std::string& config_source) {
    Topology t;
    MPI_Comm_size(MPI_COMM_WORLD, &t.world_size);
    MPI_Comm_rank(MPI_COMM_WORLD, &t.rank);
    const int S = sequence_parallel_degree;
    const std::string where = config_source.empty() ? "" : config_source + ": ";
    if (S < 1) fail_uniform("{}sequence_parallel_degree {} must be at least 1", where, S);
    if (t.world_size % S != 0) {
        // "1, 2 or 4"
        std::vector<std::string> divisors;
        for (int d = 1; d <= t.world_size; d++)
            if (t.world_size % d == 0) divisors.push_back(std::to_string(d));
        std::string choices = divisors.back();
        if (divisors.size() > 1)
            choices = fmt::format("{} or {}", fmt::join(divisors.begin(), divisors.end() - 1, ", "), divisors.back());
        fail_uniform("{}sequence_parallel_degree {} must divide the {} ranks (try {})", where, S, t.world_size, choices);
    }
    t.sp_size = S;
    t.sp_rank = t.rank % S;
    t.dp_size = t.world_size / S;
    t.dp_rank = t.rank / S;
    // Collectives over the world, so already under the watchdog (in its first-step allowance).
    WatchdogGuard guard("MPI_Comm_split / MPI_Allreduce (topology)", t.world_size);
    MPI_Comm comm;
    check_mpi(MPI_Comm_split(MPI_COMM_WORLD, t.dp_rank, t.sp_rank, &comm), "MPI_Comm_split (sequence-parallel group)");
    t.sp_comm = MpiComm(comm);
    check_mpi(MPI_Comm_split(MPI_COMM_WORLD, t.sp_rank, t.dp_rank, &comm), "MPI_Comm_split (data-parallel group)");
    t.dp_comm = MpiComm(comm);
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, t.rank, MPI_INFO_NULL, &comm),
              "MPI_Comm_split_type (node)");
    t.node_comm = MpiComm(comm);
    check_mpi(MPI_Comm_split_type(t.sp_comm.get(), MPI_COMM_TYPE_SHARED, t.sp_rank, MPI_INFO_NULL, &comm),
              "MPI_Comm_split_type (SP group on a node)");
    MpiComm sp_node(comm);
    MPI_Comm_size(sp_node.get(), &t.sp_ranks_per_node);
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &t.sp_ranks_per_node, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
              "MPI_Allreduce (SP ranks per node)");
    MPI_Comm_rank(t.node_comm.get(), &t.local_rank);
    MPI_Comm_size(t.node_comm.get(), &t.local_size);
    t.most_ranks_on_a_node = t.local_size;
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &t.most_ranks_on_a_node, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce (ranks per node)");
    // nodes = number of ranks that are local rank 0
    int is_first = t.local_rank == 0 ? 1 : 0;
    check_mpi(MPI_Allreduce(&is_first, &t.nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce (node count)");
    return t;
}

}  // namespace ringlm
