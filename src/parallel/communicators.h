// The communicators of a run, one per group of the topology (DESIGN.md "Parallel layout"):
//   world  every rank: the gradient sum, loss totals, maxima, the stop vote, errors
//   sp     this rank's SP group: ring / Ulysses attention (USP's sub-groups inside it)
//   dp     this rank's DP group: totals over the sequences of the global batch (GRPO)
// With the NCCL transport, world and sp are NCCL communicators (their host values still travel
// over MPI); dp carries host values only and is MPI.
#pragma once

#include "parallel/communicator.h"
#include "parallel/topology.h"

#include <memory>

namespace ringlm {

struct Communicators {
    std::shared_ptr<Communicator> world, sp, dp;
};

// Collective over the world: every rank calls it, in the same order as every other rank.
// nccl: the device communicators on GPU `device` (a GPU per rank); else MPI. With NCCL, world
// is the sp (D = 1) or dp (S = 1) communicator itself when that spans the world already, so no
// rank holds two NCCL communicators over the same ranks.
Communicators make_communicators(const Topology& topology, bool nccl, int device);

// An MPI communicator over every rank, for the checks that run before a run's communicators
// exist (check_together in parallel/collective_error.h) and for commands that have none.
// MPI must be initialised (MpiRuntime).
Communicator& world_communicator();
// world_communicator() when MPI is running, else nullptr (tests and tools that read files in one
// process: nothing to agree on).
Communicator* running_world();
// This process's rank in the world; 0 when MPI is not running.
int process_rank();

}  // namespace ringlm
