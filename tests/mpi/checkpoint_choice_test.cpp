// latest_checkpoint under MPI: rank 0 verifies and decides, every rank gets the same answer and
// only rank 0 prints what it skipped; when nothing verifies every rank fails alike (a
// UniformError: rank 0 prints it once). Communicator::broadcast of text from any root, any length.
#include "mpi_test_util.h"
#include "parallel/communicators.h"
#include "train/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace ringlm {
using namespace ringlm::testing;

namespace {

TEST(BroadcastText, FromAnyRootAnyLength) {
    std::mt19937_64 rng(shared_seed());
    for (int trial = 0; trial < 5; trial++) {
        const int root = static_cast<int>(rng() % static_cast<uint64_t>(world_size()));
        std::string text(rng() % 3000, ' ');
        for (char& c : text) c = static_cast<char>('a' + rng() % 26);
        const std::string mine = world_rank() == root ? text : "rank " + std::to_string(world_rank());
        EXPECT_EQ(world_communicator().broadcast(mine, root), text) << "root " << root;
    }
}

TEST(LatestCheckpoint, EveryRankTakesRankZerosChoice) {
    const uint64_t seed = shared_seed();
    const std::string folder = (std::filesystem::temp_directory_path() / ("ringlm_choice_" + std::to_string(seed))).string();
    if (world_rank() == 0) {
        std::filesystem::create_directories(folder);
        Llama model = make_llama(tiny_model_config(61, 64));
        init_llama_weights(model, seed);
        const AdamW optimizer = make_adamw(model, AdamWSettings{});
        for (int64_t step : {1, 2, 3}) save_checkpoint(checkpoint_path(folder, step), model, optimizer, {step}, "");
        std::filesystem::resize_file(checkpoint_path(folder, 3), 4096);  // cut off: refused, skipped
    }
    MPI_Barrier(MPI_COMM_WORLD);

    ::testing::internal::CaptureStdout();
    const std::optional<std::string> latest = latest_checkpoint(folder);
    const std::string printed = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(latest, checkpoint_path(folder, 2));
    if (world_rank() == 0) {
        EXPECT_EQ(printed.rfind("warning: " + checkpoint_path(folder, 3) + ": truncated or corrupt checkpoint", 0), 0u)
            << printed;
    } else {
        EXPECT_EQ(printed, "") << "only rank 0 speaks";
    }
    MPI_Barrier(MPI_COMM_WORLD);

    if (world_rank() == 0) {
        std::filesystem::resize_file(checkpoint_path(folder, 2), 4096);
        std::filesystem::resize_file(checkpoint_path(folder, 1), 4096);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    std::string why;
    try {
        latest_checkpoint(folder);
    } catch (const UniformError& error) {
        why = error.what();
    }
    EXPECT_EQ(why.rfind(folder + ": none of its 3 checkpoint(s) verifies", 0), 0u) << why;
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace ringlm
