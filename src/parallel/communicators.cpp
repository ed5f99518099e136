#include "parallel/communicators.h"

#include "parallel/mpi_communicator.h"
#include "parallel/nccl.h"

namespace ringlm {

Communicator& world_communicator() {
    static const std::unique_ptr<Communicator> world = make_mpi_communicator(MPI_COMM_WORLD);
    return *world;
}

Communicator* running_world() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized ? &world_communicator() : nullptr;
}

int process_rank() {
    const Communicator* world = running_world();
    return world ? world->rank() : 0;
}

Communicators make_communicators(const Topology& topology, bool nccl, int device) {
    Communicators comms;
    const std::shared_ptr<Communicator> mpi_world = make_mpi_communicator(MPI_COMM_WORLD);
    const std::shared_ptr<Communicator> mpi_sp = make_mpi_communicator(
        topology.sp_comm.get(), topology.ulysses_comm.get(), topology.ring_comm.get());
    comms.dp = make_mpi_communicator(topology.dp_comm.get());
    if (!nccl || topology.world_size == 1) {
        comms.world = mpi_world;
        comms.sp = mpi_sp;
        return comms;
    }
    // Every rank makes the same calls in the same order (SP and its USP sub-groups, then the
    // world), so no rank waits in one group's setup while a peer waits in another's.
    if (topology.sp_size > 1) {
        comms.sp = make_nccl_communicator(mpi_sp, device);
        if (topology.ulysses_comm.get() != MPI_COMM_NULL)
            comms.sp->set_usp_groups(
                make_nccl_communicator(make_mpi_communicator(topology.ulysses_comm.get()), device),
                make_nccl_communicator(make_mpi_communicator(topology.ring_comm.get()), device));
    } else {
        comms.sp = mpi_sp;  // one rank: nothing moves
    }
    if (topology.dp_size == 1) comms.world = comms.sp;
    else if (topology.sp_size == 1) comms.world = make_nccl_communicator(comms.dp, device);
    else comms.world = make_nccl_communicator(mpi_world, device);  // Megatron's DP x CP group: one gradient sum
    return comms;
}

}  // namespace ringlm
