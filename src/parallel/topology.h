// Topology: the world cut into sequence-parallel groups of S adjacent ranks and data-parallel
// groups across them (DESIGN.md "Parallel layout"):
//   sp group = rank / S   (ranks g*S .. g*S+S-1, adjacent so on a node they share NVLink)
//   dp group = rank % S   (the ranks holding the same chunk of different sequences)
// Both communicators come from MPI_Comm_split; the node-local rank from
// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) picks the GPU.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>

namespace ringlm {

// An owned MPI communicator (freed on destruction).
class MpiComm {
public:
    MpiComm() = default;
    explicit MpiComm(MPI_Comm comm) : comm_(comm) {}
    ~MpiComm();
    MpiComm(MpiComm&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }
    MpiComm& operator=(MpiComm&& other) noexcept;
    MpiComm(const MpiComm&) = delete;
    MpiComm& operator=(const MpiComm&) = delete;
    MPI_Comm get() const { return comm_; }

private:
    MPI_Comm comm_ = MPI_COMM_NULL;
};

struct Topology {
    int world_size = 1, rank = 0;
    int sp_size = 1, sp_rank = 0;      // S, position in the sequence-parallel group
    int dp_size = 1, dp_rank = 0;      // D, index of the data-parallel group (= sp group)
    int local_rank = 0, local_size = 1;  // on this node
    int most_ranks_on_a_node = 1;        // the largest local_size over the world
    int nodes = 1;
    int sp_ranks_per_node = 1;  // fewest ranks of one SP group sharing a node, over the world (S: on one node)
    // USP (Ulysses x ring, 1 < U < S): U = ulysses_degree adjacent ranks of the SP group form a
    // Ulysses group, the R = S / U ranks at the same position in theirs form a ring group
    // (split_usp_groups). U = 1: ring only; U = S: Ulysses only; neither needs sub-groups.
    int ulysses_degree = 1;  // set with the groups by whoever chose the backend
    MpiComm sp_comm, dp_comm, node_comm;
    MpiComm ulysses_comm, ring_comm;  // MPI_COMM_NULL unless 1 < U < S
};

// Refuses, on every rank with the same message (a UniformError: rank 0 prints it once), S < 1
// and world % S != 0; the message starts with config_source when one is given.
Topology make_topology(int sequence_parallel_degree, const std::string& config_source = "");

// USP's sub-groups of an SP group (collective over sp_comm): Ulysses group = SP ranks
// [p - p % U, p - p % U + U), ring group = SP ranks with the same p % U, each ordered by SP rank.
void split_usp_groups(MPI_Comm sp_comm, int ulysses_degree, MpiComm& ulysses_comm, MpiComm& ring_comm);

// Throws an Error naming `what` if an MPI call failed.
void check_mpi(int code, const char* what);

}  // namespace ringlm
