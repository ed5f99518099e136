// check_together / fail_together: whichever ranks fail, every rank throws the same UniformError
// (the lowest failing rank's message), and no rank is left waiting in a collective.
#include "parallel/collective_error.h"

#include "mpi_test_util.h"
#include "util/error.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ringlm {
namespace {

using testing::world_rank;
using testing::world_size;

// The message every rank got from check_together(check), or "" when none threw.
std::string agreed_message(const std::function<void()>& check) {
    try {
        check_together(check);
    } catch (const UniformError& error) {
        return error.what();
    }
    return "";
}

TEST(CollectiveError, EveryRankThrowsTheLowestFailingRanksMessage) {
    const int W = world_size(), me = world_rank();
    EXPECT_EQ(agreed_message([] {}), "");
    // only the last rank fails (a file missing on its node): everyone hears it, with its rank
    EXPECT_EQ(agreed_message([&] {
                  if (me == W - 1) fail("x.yaml: datasets[0].path 'a.h5' does not exist");
              }),
              fmt::format("rank {}: x.yaml: datasets[0].path 'a.h5' does not exist", W - 1));
    // every rank fails alike (a shared file system): rank 0's message as a one-rank run says it
    EXPECT_EQ(agreed_message([&] { fail("x.yaml: tokenizer 't.bin': truncated at token {}", 7); }),
              "x.yaml: tokenizer 't.bin': truncated at token 7");
    // ranks 1.. fail differently, with any exception type: the lowest one's message wins
    EXPECT_EQ(agreed_message([&] {
                  if (me >= 1) throw std::runtime_error(fmt::format("failure on rank {}", me));
              }),
              "rank 1: failure on rank 1");
    // fail_together names the rank always (reward programs: which leader's program failed)
    try {
        fail_together(me == 0 ? "reward program failed" : "");
        ADD_FAILURE() << "no error";
    } catch (const UniformError& error) {
        EXPECT_STREQ(error.what(), "rank 0: reward program failed");
    }
}

}  // namespace
}  // namespace ringlm
