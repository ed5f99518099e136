// The MPI communicator (host tensors), apart from communicator.h so that header needs no MPI.
#pragma once

#include "parallel/communicator.h"

#include <mpi.h>

#include <memory>

namespace ringlm {

// A communicator over the ranks of `comm` (the world, or a group from Topology); with USP's
// Ulysses and ring sub-group communicators (Topology's, split_usp_groups) it carries those
// groups' communicators too. The MPI communicators must outlive it.
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, MPI_Comm ulysses_comm = MPI_COMM_NULL,
                                                    MPI_Comm ring_comm = MPI_COMM_NULL);

}  // namespace ringlm
