// The NCCL communicator, as the layers above see it: no NCCL or CUDA type here. It is
// implemented in cuda/nccl_bootstrap.cpp when the build has NCCL, and by nccl_absent.cpp
// otherwise (CMake compiles exactly one of the two), so no file above cuda/ tests a build macro.
#pragma once

#include "parallel/communicator.h"

#include <memory>

namespace ringlm {

// Whether this build has the NCCL communicator (the CUDA backend and NCCL were found).
bool nccl_available();

// An NCCL communicator over the ranks of `control`, an MPI communicator of the same group: its
// rank 0 draws the NCCL id and broadcasts it over `control`, then every rank joins on its own
// GPU `device` (collective over the group). Host values (Communicator's blocking part) go
// through `control`. Throws when nccl_available() is false.
std::unique_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> control, int device);

}  // namespace ringlm
