// What the MPI tests share: the world's size and this rank, and a seed drawn on rank 0 and
// broadcast, so every rank draws the same "global" inputs (printed on failure by the test).
#pragma once

#include "model/model_config.h"
#include "test_util.h"

#include <mpi.h>

namespace ringlm::testing {

inline int world_size() {
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size;
}

inline int world_rank() {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

// fresh_seed() on rank 0, the same on every rank.
inline uint64_t shared_seed() {
    uint64_t seed = world_rank() == 0 ? fresh_seed() : 0;
    MPI_Bcast(&seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    return seed;
}

}  // namespace ringlm::testing
