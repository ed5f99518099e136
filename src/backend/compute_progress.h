// Communication progress while a long CPU kernel runs. MPI moves a message only inside MPI
// calls (Open MPI's shared-memory transport copies a large message when the receiving rank
// enters the library), so a ring transfer started before a block's attention would otherwise
// sit still until the wait after it. The layer that started the transfer installs a hook for
// the scope of the compute; the CPU attention kernels call poll_compute_progress() between
// work items on OpenMP thread 0, which is the thread that installed it (the calling thread:
// what MPI_THREAD_FUNNELED allows). The hook must not throw and must not block.
#pragma once

#include <functional>

namespace ringlm {

class ComputeProgress {
public:
    explicit ComputeProgress(std::function<void()> poll);
    ~ComputeProgress();
    ComputeProgress(const ComputeProgress&) = delete;
    ComputeProgress& operator=(const ComputeProgress&) = delete;

private:
    std::function<void()> poll_;
    const std::function<void()>* outer_;  // restored on exit: scopes nest
};

// Calls this thread's innermost hook; nothing when none is installed.
void poll_compute_progress();

}  // namespace ringlm
