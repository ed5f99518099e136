// The parts of Communicator that every implementation shares: the stop vote, text broadcast
// and the collective error, each built on the host primitives (all_reduce_max, broadcast).
#include "parallel/communicator.h"

#include "parallel/watchdog.h"
#include "util/error.h"

#include <exception>

namespace ringlm {

void Communicator::synchronize() {
    WatchdogGuard guard("device exchanges (synchronize)", size());
    wait_for_device();
}

bool Communicator::any(bool mine) {
    int64_t vote = mine ? 1 : 0;
    all_reduce_max(&vote, 1);
    return vote != 0;
}

std::string Communicator::broadcast(const std::string& text, int root) {
    int64_t length = rank() == root ? static_cast<int64_t>(text.size()) : 0;
    broadcast(&length, sizeof length, root);
    std::string received = rank() == root ? text : std::string(static_cast<size_t>(length), ' ');
    broadcast(received.data(), length, root);
    return received;
}

namespace {

// The lowest failing rank of the group and its message; rank -1 when every rank is fine.
// The lowest rank r is the highest of size - r over the failing ranks.
struct FirstFailure {
    int rank = -1;
    std::string message;
};

FirstFailure first_failure(Communicator& comm, const std::string& error) {
    int64_t highest = error.empty() ? 0 : comm.size() - comm.rank();
    comm.all_reduce_max(&highest, 1);
    if (highest == 0) return {};
    const int rank = comm.size() - static_cast<int>(highest);
    return {rank, comm.broadcast(error, rank)};
}

}  // namespace

void Communicator::fail_together(const std::string& error) {
    const FirstFailure first = first_failure(*this, error);
    if (first.rank >= 0) throw UniformError(fmt::format("rank {}: {}", first.rank, first.message));
}

void Communicator::check_together(const std::function<void()>& check) {
    std::string error;
    try {
        check();
    } catch (const std::exception& exception) {  // any kind: a rank that skipped the agreement would hang the rest
        error = exception.what();
        if (error.empty()) error = "unknown error";
    }
    const FirstFailure first = first_failure(*this, error);
    if (first.rank < 0) return;
    if (first.rank == 0) throw UniformError(first.message);
    throw UniformError(fmt::format("rank {}: {}", first.rank, first.message));
}

}  // namespace ringlm
