// The MPI transport (host tensors), apart from transport.h so that header needs no MPI.
#pragma once

#include "parallel/transport.h"

#include <mpi.h>

#include <memory>

namespace ringlm {

// Transport of an SP group over MPI (the group's communicator from Topology).
std::unique_ptr<Transport> make_mpi_transport(MPI_Comm sp_comm);

}  // namespace ringlm
