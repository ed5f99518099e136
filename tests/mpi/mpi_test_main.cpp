// main() of every MPI test binary: runs GoogleTest on each rank, then reduces the result
// over the world, so a failure on any rank fails the test on all of them (and ctest sees it).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ::testing::InitGoogleTest(&argc, argv);
    if (rank != 0) {  // rank 0 prints the summary; other ranks print only their failures
        auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
        delete listeners.Release(listeners.default_result_printer());
    }
    int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
    if (local_failed) std::fprintf(stderr, "rank %d: tests FAILED\n", rank);
    int any_failed = 0;
    MPI_Allreduce(&local_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) std::printf("%s on every rank\n", any_failed ? "FAILED" : "passed");
    MPI_Finalize();
    return any_failed;
}
