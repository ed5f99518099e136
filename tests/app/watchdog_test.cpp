// src/parallel/watchdog: the deadline logic on made-up times (when a wait expires, with the
// first step's allowance and after it, nested waits, time the process was stopped, the
// message). The thread and the abort are tested end to end by
// tests/integration/hang_and_dead_rank_test.sh.
#include "parallel/watchdog.h"

#include <gtest/gtest.h>


namespace ringlm {
namespace {

using Clock = Watchdog::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Clock::time_point t0 = Clock::time_point(seconds(1000));

TEST(Watchdog, OffRecordsNothing) {
    Watchdog watchdog;  // timeout 0
    const WatchdogWait previous = watchdog.begin("MPI_Allreduce (gradients)", 4, -1, t0);
    EXPECT_EQ(previous.operation, nullptr);
    EXPECT_FALSE(watchdog.expired(t0 + seconds(1000000)));
}

TEST(Watchdog, FirstStepAllowanceThenTheTimeout) {
    Watchdog watchdog;
    watchdog.set_timeout(300);
    WatchdogWait previous = watchdog.begin("MPI_Allreduce (gradients)", 4, -1, t0);
    EXPECT_FALSE(watchdog.expired(t0));
    EXPECT_FALSE(watchdog.expired(t0 + seconds(1499)));
    auto late = watchdog.expired(t0 + seconds(1500));
    ASSERT_TRUE(late);
    EXPECT_STREQ(late->operation, "MPI_Allreduce (gradients)");
    EXPECT_EQ(late->allowed_seconds, 300 * first_step_allowance);
    EXPECT_TRUE(late->first_step);
    watchdog.end(previous);
    EXPECT_FALSE(watchdog.expired(t0 + seconds(100000)));  // done waiting: nothing expires

    watchdog.end_warmup();
    const Clock::time_point t1 = t0 + seconds(2000);
    previous = watchdog.begin("ring receive from", 2, 3, t1);
    EXPECT_FALSE(watchdog.expired(t1 + seconds(299) + milliseconds(999)));
    late = watchdog.expired(t1 + seconds(300));
    ASSERT_TRUE(late);
    EXPECT_EQ(late->peer, 3);
    EXPECT_EQ(late->allowed_seconds, 300);
    EXPECT_FALSE(late->first_step);
    watchdog.end(previous);
    EXPECT_FALSE(watchdog.expired(t1 + seconds(100000)));
}

TEST(Watchdog, NestedWaitsRestoreTheOuterDeadline) {
    Watchdog watchdog;
    watchdog.set_timeout(10);
    watchdog.end_warmup();
    const WatchdogWait outer = watchdog.begin("MPI_Barrier (outer)", 4, -1, t0);
    const WatchdogWait inner = watchdog.begin("ring send to", 2, 1, t0 + seconds(5));
    EXPECT_STREQ(inner.operation, "MPI_Barrier (outer)");
    EXPECT_FALSE(watchdog.expired(t0 + seconds(12)));  // the inner wait's deadline (t0 + 15) holds
    ASSERT_TRUE(watchdog.expired(t0 + seconds(15)));
    EXPECT_STREQ(watchdog.expired(t0 + seconds(15))->operation, "ring send to");
    watchdog.end(inner);
    const auto late = watchdog.expired(t0 + seconds(12));  // back to the outer wait, past its t0 + 10
    ASSERT_TRUE(late);
    EXPECT_STREQ(late->operation, "MPI_Barrier (outer)");
    watchdog.end(outer);
    EXPECT_FALSE(watchdog.expired(t0 + seconds(100)));
}

// Time the process was stopped (SIGSTOP, a suspended job) moves the deadlines: the wait in
// progress and the ones after it.
TEST(Watchdog, FrozenTimeMovesDeadlines) {
    Watchdog watchdog;
    watchdog.set_timeout(10);
    watchdog.end_warmup();
    WatchdogWait previous = watchdog.begin("MPI_Allreduce (stop vote)", 4, -1, t0);
    watchdog.add_frozen(seconds(60));  // stopped from t0 + 2 to t0 + 62
    EXPECT_FALSE(watchdog.expired(t0 + seconds(62)));
    EXPECT_FALSE(watchdog.expired(t0 + seconds(69)));
    EXPECT_TRUE(watchdog.expired(t0 + seconds(70)));
    watchdog.end(previous);
    previous = watchdog.begin("MPI_Allreduce (stop vote)", 4, -1, t0 + seconds(100));
    EXPECT_FALSE(watchdog.expired(t0 + seconds(109)));
    EXPECT_TRUE(watchdog.expired(t0 + seconds(110)));
    watchdog.end(previous);
}

TEST(Watchdog, Messages) {
    WatchdogWait collective{"MPI_Allreduce (gradients)", 4, -1, 300, false, 1};
    EXPECT_EQ(watchdog_message(collective),
              "MPI_Allreduce (gradients) over 4 ranks did not complete within 300 s (collective_timeout_s): a rank is "
              "hung or dead");
    WatchdogWait ring{"ring receive from", 4, 2, 7.5, false, 1};
    EXPECT_EQ(watchdog_message(ring),
              "ring receive from rank 2 did not complete within 7.5 s (collective_timeout_s): rank 2 (or a rank it "
              "waits on) is hung or dead");
    WatchdogWait first{"MPI_Allreduce (sums)", 8, -1, 1500, true, 1};
    EXPECT_EQ(watchdog_message(first),
              "MPI_Allreduce (sums) over 8 ranks did not complete within 1500 s (5 x collective_timeout_s, the first "
              "step's allowance): a rank is hung or dead");
}

}  // namespace
}  // namespace ringlm
