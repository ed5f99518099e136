// NCCL communicators made over MPI groups (parallel/nccl.h): the group's rank 0 draws the NCCL
// id, the MPI communicator `control` broadcasts it, every rank joins on its own GPU. Compiled
// only when the build has NCCL (else src/parallel/nccl_absent.cpp).
#include "parallel/nccl.h"

#include "cuda_backend.h"
#include "nccl_communicator.h"
#include "parallel/watchdog.h"
#include "util/error.h"

namespace ringlm {

bool nccl_available() { return true; }

std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> control, int device) {
    if (!control) fail("make_nccl_communicator: no MPI group to bootstrap over");
    const int rank = control->rank(), size = control->size();
    std::shared_ptr<NcclComm> comm;
    {
        // ncclCommInitRank returns once every rank of the group has joined.
        WatchdogGuard guard("NCCL communicator setup (ncclCommInitRank)", size);
        ncclUniqueId id{};
        if (rank == 0) id = nccl_unique_id();
        control->broadcast(&id, sizeof id, 0);
        comm = std::make_shared<NcclComm>(id, rank, size, device);
    }
    // On a hang the watchdog aborts the communicator first, so the GPU stops waiting on its peers.
    add_watchdog_abort_hook([weak = std::weak_ptr<NcclComm>(comm)] {
        if (const auto alive = weak.lock()) alive->abort();
    });
    return std::make_unique<NcclCommunicator>(std::move(comm), cuda_compute_stream(), std::move(control));
}

}  // namespace ringlm
