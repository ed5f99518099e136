// NCCL bootstrap over MPI (see nccl_bootstrap.h). Compiled to nothing without NCCL.
#ifdef RINGLM_WITH_NCCL
#include "parallel/nccl_bootstrap.h"

#include "cuda_backend.h"
#include "cuda_check.h"
#include "parallel/watchdog.h"

namespace ringlm {

std::shared_ptr<NcclCommunicator> make_nccl_communicator(MPI_Comm comm, int device) {
    int rank = 0, size = 1;
    check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank (NCCL bootstrap)");
    check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size (NCCL bootstrap)");
    // ncclCommInitRank returns once every rank of the group has joined.
    WatchdogGuard guard("NCCL communicator setup (MPI_Bcast, ncclCommInitRank)", size);
    ncclUniqueId id{};
    if (rank == 0) id = nccl_unique_id();
    check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, comm), "MPI_Bcast (NCCL unique id)");
    auto communicator = std::make_shared<NcclCommunicator>(id, rank, size, device);
    // On a hang the watchdog aborts the communicator first, so the GPU stops waiting on its peers.
    add_watchdog_abort_hook([weak = std::weak_ptr<NcclCommunicator>(communicator)] {
        if (const auto alive = weak.lock()) alive->abort();
    });
    return communicator;
}

NcclGroups make_nccl_groups(const Topology& topology, int device) {
    NcclGroups groups;
    // Every rank makes the same calls in the same order (SP, DP, world), so no rank waits in
    // one group's init while a peer waits in another's.
    if (topology.sp_size > 1) groups.sp = make_nccl_communicator(topology.sp_comm.get(), device);
    if (topology.dp_size > 1) groups.dp = make_nccl_communicator(topology.dp_comm.get(), device);
    if (topology.sp_size > 1 && topology.dp_size > 1) groups.world = make_nccl_communicator(MPI_COMM_WORLD, device);
    return groups;
}

std::function<void(Tensor&)> nccl_gradient_allreduce(const NcclGroups& groups) {
    const cudaStream_t compute = cuda_compute_stream();
    // Transports of their own (own streams) over the shared communicators: by the time
    // gradients are summed every ring exchange of the step has been waited on, so the
    // communicators see the same sequence of operations on every rank.
    const std::shared_ptr<NcclCommunicator> world = groups.world ? groups.world : groups.sp ? groups.sp : groups.dp;
    if (!world) return [](Tensor&) {};  // one rank: nothing to sum
    const auto transport = std::make_shared<NcclTransport>(world, compute);
    return [transport, compute](Tensor& gradients) {
        transport->all_reduce_sum(gradients)->wait();
        // The host waits here for the step's GPU work, its ring exchanges and this sum.
        WatchdogGuard guard("NCCL all-reduce (gradients)", transport->sp_size());
        CUDA_CHECK(cudaStreamSynchronize(compute));
        watchdog_warmup_done();  // the first step's gradients are summed: every rank is past its warm-up
    };
}

}  // namespace ringlm
#endif  // RINGLM_WITH_NCCL
