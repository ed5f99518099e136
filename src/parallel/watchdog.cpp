// The per-rank watchdog (see watchdog.h): deadlines published by the waiting thread, read and
// acted on by a background thread.
#include "parallel/watchdog.h"

#include <mpi.h>

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace ringlm {

// --- the deadline logic ----------------------------------------------------------------------

namespace {

int64_t nanoseconds(Watchdog::Clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace

WatchdogWait Watchdog::begin(const char* operation, int ranks, int peer, Clock::time_point now) {
    const WatchdogWait previous = current_;
    const double timeout = timeout_seconds_.load(std::memory_order_relaxed);
    if (timeout <= 0) return previous;
    const bool first_step = !warm_.load(std::memory_order_relaxed);
    const double allowed = first_step ? timeout * first_step_allowance : timeout;
    const int64_t running = nanoseconds(now) - frozen_ns_.load(std::memory_order_relaxed);
    publish(WatchdogWait{operation, ranks, peer, allowed, first_step, running + static_cast<int64_t>(allowed * 1e9)});
    return previous;
}

// A sequence lock: the count is odd while the fields change, so a reader that sees the same
// even count before and after its reads has read one consistent wait.
void Watchdog::publish(const WatchdogWait& wait) {
    const uint64_t sequence = sequence_.load(std::memory_order_relaxed);
    sequence_.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    operation_.store(wait.operation, std::memory_order_relaxed);
    ranks_.store(wait.ranks, std::memory_order_relaxed);
    peer_.store(wait.peer, std::memory_order_relaxed);
    allowed_seconds_.store(wait.allowed_seconds, std::memory_order_relaxed);
    first_step_.store(wait.first_step, std::memory_order_relaxed);
    deadline_ns_.store(wait.deadline_ns, std::memory_order_relaxed);
    sequence_.store(sequence + 2, std::memory_order_release);
    current_ = wait;
}

std::optional<WatchdogWait> Watchdog::expired(Clock::time_point now) const {
    // The writer holds the odd count for a few stores: a retry or two at most.
    for (int attempt = 0; attempt < 1000; attempt++) {
        const uint64_t before = sequence_.load(std::memory_order_acquire);
        if (before % 2 == 1) continue;
        WatchdogWait wait;
        wait.operation = operation_.load(std::memory_order_relaxed);
        wait.ranks = ranks_.load(std::memory_order_relaxed);
        wait.peer = peer_.load(std::memory_order_relaxed);
        wait.allowed_seconds = allowed_seconds_.load(std::memory_order_relaxed);
        wait.first_step = first_step_.load(std::memory_order_relaxed);
        wait.deadline_ns = deadline_ns_.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (sequence_.load(std::memory_order_relaxed) != before) continue;
        const int64_t running = nanoseconds(now) - frozen_ns_.load(std::memory_order_relaxed);
        if (wait.operation == nullptr || wait.deadline_ns == 0 || running < wait.deadline_ns) return std::nullopt;
        return wait;
    }
    return std::nullopt;
}

std::string watchdog_message(const WatchdogWait& wait) {
    const std::string what = wait.peer >= 0 ? fmt::format("{} rank {}", wait.operation, wait.peer)
                                            : fmt::format("{} over {} ranks", wait.operation, wait.ranks);
    const std::string culprit =
        wait.peer >= 0 ? fmt::format("rank {} (or a rank it waits on) is hung or dead", wait.peer)
                       : std::string("a rank is hung or dead");
    const std::string allowance = wait.first_step ? fmt::format("{:g} x collective_timeout_s, the first step's allowance",
                                                                first_step_allowance)
                                                  : std::string("collective_timeout_s");
    return fmt::format("{} did not complete within {:g} s ({}): {}", what, wait.allowed_seconds, allowance, culprit);
}

// --- the process's watchdog ------------------------------------------------------------------

namespace {

struct ProcessWatchdog {
    Watchdog watchdog;
    std::mutex hooks_mutex;
    std::vector<std::function<void()>> abort_hooks;
    bool started = false;
    int rank = 0, world_size = 1;
};

// Never destroyed: the watchdog thread may still read it while the process exits.
ProcessWatchdog& process_watchdog() {
    static ProcessWatchdog* instance = new ProcessWatchdog;
    return *instance;
}

// How long the abort hooks and MPI_Abort get before this process kills itself; a rank killed
// by a signal brings the job down too (mpirun; srun --mpi=pmix).
constexpr std::chrono::seconds abort_grace{10};

[[noreturn]] void abort_job(ProcessWatchdog& process, const std::string& message) {
    if (process.world_size > 1) std::fprintf(stderr, "ringlm: error: rank %d: %s\n", process.rank, message.c_str());
    else std::fprintf(stderr, "ringlm: error: %s\n", message.c_str());
    std::fflush(stderr);
    std::thread([] {
        std::this_thread::sleep_for(abort_grace);
        std::raise(SIGKILL);
    }).detach();
    {
        std::lock_guard<std::mutex> lock(process.hooks_mutex);
        for (const auto& hook : process.abort_hooks) hook();
    }
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::raise(SIGKILL);
    std::abort();
}

void watch(ProcessWatchdog& process) {
    using Clock = Watchdog::Clock;
    while (true) {
        // Twenty looks per timeout, at most one a second: the abort comes within 5% of the deadline.
        const double timeout = process.watchdog.timeout();
        const auto poll = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(timeout > 0 ? std::clamp(timeout / 20, 0.01, 1.0) : 1.0));
        const auto before = Clock::now();
        std::this_thread::sleep_for(poll);
        const auto now = Clock::now();
        // A look far later than asked for: this process was stopped (SIGSTOP, a suspended job)
        // or starved, and its peers waited on it, not it on them. A rank stopped by SIGSTOP
        // and continued by mpirun only to be killed must not blame a peer.
        const auto overslept = now - before - poll;
        if (overslept > std::chrono::milliseconds(100)) process.watchdog.add_frozen(overslept);
        if (const auto wait = process.watchdog.expired(now)) abort_job(process, watchdog_message(*wait));
    }
}

}  // namespace

void start_watchdog(double seconds) {
    ProcessWatchdog& process = process_watchdog();
    process.watchdog.set_timeout(seconds);
    if (process.started || seconds <= 0) return;
    MPI_Comm_rank(MPI_COMM_WORLD, &process.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &process.world_size);
    process.started = true;
    std::thread(watch, std::ref(process)).detach();
}

void watchdog_warmup_done() { process_watchdog().watchdog.end_warmup(); }

void add_watchdog_abort_hook(std::function<void()> hook) {
    ProcessWatchdog& process = process_watchdog();
    std::lock_guard<std::mutex> lock(process.hooks_mutex);
    process.abort_hooks.push_back(std::move(hook));
}

WatchdogGuard::WatchdogGuard(const char* operation, int ranks, int peer) {
    Watchdog& watchdog = process_watchdog().watchdog;
    if (watchdog.timeout() <= 0) return;
    previous_ = watchdog.begin(operation, ranks, peer, Watchdog::Clock::now());
    active_ = true;
}

WatchdogGuard::~WatchdogGuard() {
    if (active_) process_watchdog().watchdog.end(previous_);
}

}  // namespace ringlm
