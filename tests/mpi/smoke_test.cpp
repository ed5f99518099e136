// The MPI harness itself: every rank runs, and the reduction sees every rank.
#include <gtest/gtest.h>
#include <mpi.h>

TEST(MpiHarness, EveryRankTakesPart) {
    int rank = 0, world = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    int sum = 0;
    MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_EQ(sum, world * (world - 1) / 2);
}
