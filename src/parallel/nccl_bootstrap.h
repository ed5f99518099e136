// The NCCL communicators of a run with `backend: cuda` and the NCCL transport (CUDA builds with
// NCCL only: RINGLM_WITH_NCCL). One communicator per SP group and one per DP group, the same
// groups as Topology's MPI communicators: the group's rank 0 draws the NCCL id and broadcasts
// it over the group's MPI communicator, then every rank joins on its own GPU. With both S > 1
// and D > 1 a third communicator spans the world, for the gradient sum (Megatron's DP x CP
// group): one all-reduce of the gradients instead of two.
#pragma once

#include "nccl_transport.h"
#include "parallel/topology.h"

#include <mpi.h>

#include <functional>
#include <memory>

namespace ringlm {

struct NcclGroups {
    std::shared_ptr<NcclCommunicator> sp;  // null when S == 1
    std::shared_ptr<NcclCommunicator> dp;  // null when D == 1
    std::shared_ptr<NcclCommunicator> world;  // null unless S > 1 and D > 1 (else sp or dp is the world)
};

// A communicator over the ranks of `comm`, collective over `comm`. device: this rank's GPU.
std::shared_ptr<NcclCommunicator> make_nccl_communicator(MPI_Comm comm, int device);

// The groups' communicators; collective over the world (every rank calls it).
NcclGroups make_nccl_groups(const Topology& topology, int device);

// Sums a device gradient buffer over the world, in place, with one all-reduce on the world's
// communicator (sp or dp when the other group has one rank). It runs on its own communication
// stream after the compute stream's queued work; the function returns when the sum is done
// (one host sync per step, so the step's all-reduce time is measured).
std::function<void(Tensor&)> nccl_gradient_allreduce(const NcclGroups& groups);

}  // namespace ringlm
