// The per-rank watchdog: a hang becomes an error that names the operation and the peer.
//
// Every blocking wait on other ranks (a ring step, an all-gather, an all-reduce, a barrier)
// holds a WatchdogGuard while it waits. The guard writes "this rank waits in OPERATION on PEER
// until DEADLINE" into the process's one Watchdog (a clock read and a few atomic stores, no
// lock, no syscall); a background thread started by start_watchdog looks at it a few times a
// second. When a deadline passes, that thread prints on this rank
//   ringlm: error: rank 1: MPI_Allreduce (gradients) over 4 ranks did not complete within 300 s
//   (collective_timeout_s): a rank is hung or dead
// (one line), runs the abort hooks (NCCL's communicators register ncclCommAbort there) and
// aborts the whole job with MPI_Abort, from its own thread: the main thread is the one stuck.
//
// The deadline is collective_timeout_s after the wait began; until the first gradient sum of a
// run completes (watchdog_warmup_done) it is first_step_allowance x that, because the first
// step also waits out the other ranks' model loading, data checks and first-touch allocation.
//
// Guards nest (the inner one's deadline holds until it ends, then the outer one's again). They
// are meant for the thread that talks to MPI (MPI_THREAD_FUNNELED: the main thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ringlm {

// The warm-up multiple of collective_timeout_s (see above).
inline constexpr double first_step_allowance = 5.0;

// What a guard says this rank waits in. `operation` must outlive the process's use of it (a
// string literal): the watchdog thread may read it after the guard is gone.
//   peer < 0:  a collective, "OPERATION over RANKS ranks"          ("MPI_Allreduce (gradients)")
//   peer >= 0: point to point, "OPERATION rank PEER" (world rank)  ("ring receive from")
struct WatchdogWait {
    const char* operation = nullptr;  // nullptr: not waiting
    int ranks = 0;
    int peer = -1;
    double allowed_seconds = 0;       // the allowance the deadline was set with
    bool first_step = false;          // the warm-up's allowance (first_step_allowance x the timeout)
    int64_t deadline_ns = 0;          // steady clock less frozen time (add_frozen); 0: not waiting
};

// The deadline logic, on a clock the caller passes in (the process's watchdog passes
// steady_clock::now(); a test passes made-up times). One writer (the waiting thread), any
// number of readers (the watchdog thread).
class Watchdog {
public:
    using Clock = std::chrono::steady_clock;

    // 0 (or less): no deadlines; begin() records nothing.
    void set_timeout(double seconds) { timeout_seconds_.store(seconds, std::memory_order_relaxed); }
    double timeout() const { return timeout_seconds_.load(std::memory_order_relaxed); }
    void end_warmup() { warm_.store(true, std::memory_order_relaxed); }

    // The waiting thread begins `operation` at `now`; returns the wait it replaces, for end().
    WatchdogWait begin(const char* operation, int ranks, int peer, Clock::time_point now);
    // The waiting thread is done with the wait begin() returned `previous` for.
    void end(const WatchdogWait& previous) { publish(previous); }

    // The wait whose deadline `now` has passed; nullopt when none has.
    std::optional<WatchdogWait> expired(Clock::time_point now) const;

    // This process did not run for `lost` (stopped by SIGSTOP, a suspended Slurm job, a starved
    // machine): the time is not the peers' fault, so every deadline, the current one and those
    // to come, moves later by it. Deadlines live on a clock that stops with the process.
    void add_frozen(Clock::duration lost) {
        frozen_ns_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(lost).count(),
                             std::memory_order_relaxed);
    }

private:
    void publish(const WatchdogWait& wait);

    std::atomic<double> timeout_seconds_{0};
    std::atomic<bool> warm_{false};
    // The current wait, field by field, behind a sequence count (publish()).
    std::atomic<const char*> operation_{nullptr};
    std::atomic<int> ranks_{0}, peer_{-1};
    std::atomic<double> allowed_seconds_{0};
    std::atomic<bool> first_step_{false};
    std::atomic<int64_t> deadline_ns_{0};
    std::atomic<uint64_t> sequence_{0};  // odd while publish() writes the fields above
    std::atomic<int64_t> frozen_ns_{0};
    WatchdogWait current_;  // the writer's own copy, returned by begin() as "previous"
};

// "MPI_Allreduce (gradients) over 4 ranks did not complete within 300 s (collective_timeout_s):
// a rank is hung or dead" (without the "rank N: " prefix the abort adds).
std::string watchdog_message(const WatchdogWait& wait);

// Starts this process's watchdog thread (once; a later call only changes the timeout).
// seconds: collective_timeout_s; 0 disables it. Call after MPI_Init, from the main thread.
void start_watchdog(double seconds);
// The first step is over (called when the first gradient sum completes): deadlines drop from
// first_step_allowance x collective_timeout_s to collective_timeout_s.
void watchdog_warmup_done();
// `hook` runs on the watchdog thread just before it aborts the job (NCCL: ncclCommAbort, so a
// GPU collective waiting on a dead peer is torn down rather than left spinning).
void add_watchdog_abort_hook(std::function<void()> hook);

// Marks this rank as waiting in `operation` (see WatchdogWait) until the guard goes out of
// scope. Costs a clock read and a few atomic stores; nothing when the watchdog is off.
//   { WatchdogGuard guard("MPI_Allreduce (stop vote)", world_size);  MPI_Allreduce(...); }
//   { WatchdogGuard guard("ring receive from", sp_size, previous_world_rank);  MPI_Wait(...); }
class WatchdogGuard {
public:
    WatchdogGuard(const char* operation, int ranks, int peer = -1);
    ~WatchdogGuard();
    WatchdogGuard(const WatchdogGuard&) = delete;
    WatchdogGuard& operator=(const WatchdogGuard&) = delete;

private:
    WatchdogWait previous_;
    bool active_ = false;
};

}  // namespace ringlm
