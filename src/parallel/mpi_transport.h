// The MPI transport (host tensors), apart from transport.h so that header needs no MPI.
#pragma once

#include "parallel/transport.h"

#include <mpi.h>

#include <memory>

namespace ringlm {

// Transport of an SP group over MPI (the group's communicator from Topology); with USP's
// Ulysses and ring sub-group communicators (Topology's, split_usp_groups) it carries those
// groups' transports too. The communicators must outlive the transport.
std::unique_ptr<Transport> make_mpi_transport(MPI_Comm sp_comm, MPI_Comm ulysses_comm = MPI_COMM_NULL,
                                              MPI_Comm ring_comm = MPI_COMM_NULL);

}  // namespace ringlm
