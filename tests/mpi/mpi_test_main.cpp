// main() of every MPI test binary: runs GoogleTest on each rank, then reduces the result
// over the world, so a failure on any rank fails the test on all of them (and ctest sees it).
// When every test skipped on every rank (a GPU-only test without GPUs), it exits 77, which
// tests/CMakeLists.txt declares as ctest's SKIP_RETURN_CODE: ctest then says Skipped, not Passed.
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
    const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
    const int local_all_skipped = unit.test_to_run_count() > 0 && unit.skipped_test_count() == unit.test_to_run_count();
    int any_failed = 0, all_skipped = 0;
    MPI_Allreduce(&local_failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(&local_all_skipped, &all_skipped, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    const bool skipped = !any_failed && all_skipped;
    if (rank == 0) std::printf("%s on every rank\n", any_failed ? "FAILED" : skipped ? "skipped" : "passed");
    MPI_Finalize();
    return any_failed ? 1 : skipped ? 77 : 0;
}
