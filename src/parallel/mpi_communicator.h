// The MPI communicator, apart from communicator.h so that header needs no MPI. MPI moves host
// memory: device tensors travel through host copies (page-locked: Backend::empty_staging), made
// when an exchange starts and copied back when it is waited on (ranks sharing one GPU, where
// NCCL cannot run).
#pragma once

#include "parallel/communicator.h"

#include <mpi.h>

#include <memory>

namespace ringlm {

// A communicator over the ranks of `comm` (the world, or a group from Topology); with USP's
// Ulysses and ring sub-group communicators (Topology's, split_usp_groups) it carries those
// groups' communicators too. The MPI communicators must outlive it.
// device_tensors: host copies for device tensors only. every_tensor: host tensors are copied
// too, so the tests run the copy path on a machine without a GPU.
enum class MpiStaging { device_tensors, every_tensor };
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, MPI_Comm ulysses_comm = MPI_COMM_NULL,
                                                    MPI_Comm ring_comm = MPI_COMM_NULL,
                                                    MpiStaging staging = MpiStaging::device_tensors);

}  // namespace ringlm
