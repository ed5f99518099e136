// Communicator: one group of ranks (the world, an SP group, a DP group, USP's sub-groups) and
// everything they exchange. One interface, two implementations: MPI (mpi_communicator.cpp, host
// tensors) and NCCL (cuda/nccl_communicator.cpp, device tensors). Ring and Ulysses attention,
// the gradient sum, the loss totals, the stop vote and the collective error all go through it;
// nothing above src/parallel knows which one runs, or that MPI exists.
//
// Tensor exchanges are non-blocking: start one, compute, then wait() on what it returned. The
// time spent inside wait() is the "ring wait" of the metrics: communication the compute did
// not hide (MPI). The NCCL communicator's wait() only orders the GPU's compute stream after the
// exchange, so its host wait is near zero and unhidden communication shows as a longer step
// (synchronize() makes the host wait for it).
//
// Host values (a few numbers per step: loss totals, maxima, the stop vote, an error message)
// are blocking and always travel over MPI: the NCCL communicator hands them to the MPI
// communicator of its group.
//
// This header needs no MPI (the NCCL communicator builds in the GPU check's core-only build);
// make_mpi_communicator is in parallel/mpi_communicator.h.
#pragma once

#include "tensor/tensor.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ringlm {

// An exchange in flight. wait() completes it (idempotent); the destructor waits too, so a
// buffer is never reused while the network still writes into it.
class PendingExchange {
public:
    virtual ~PendingExchange() = default;
    virtual void wait() = 0;
};

// Bytes sent by one rank, per kind of exchange (Communicator::take_bytes_sent).
struct CommunicatorBytes {
    int64_t ring_shift = 0, all_gather = 0, reduce_scatter = 0, all_to_all = 0;
    int64_t total() const { return ring_shift + all_gather + reduce_scatter + all_to_all; }
};

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int size() const = 0;
    virtual int rank() const = 0;

    // --- tensors (host tensors for MPI, device tensors for NCCL) ------------------------------
    // Ring step: send each of `send` to the next rank (rank + 1 mod S) and receive the
    // previous rank's into `receive` (same shapes, pairwise). `send` and `receive` must not
    // alias: callers double-buffer.
    virtual std::unique_ptr<PendingExchange> ring_shift(const std::vector<Tensor>& send,
                                                        const std::vector<Tensor>& receive) = 0;
    // out [S * n, ...] = the `in` [n, ...] of every rank of the group, in rank order.
    virtual std::unique_ptr<PendingExchange> all_gather(const Tensor& in, const Tensor& out) = 0;
    // out [n, ...] = sum over the group of rows [r*n, (r+1)*n) of each rank's `in` [S*n, ...].
    virtual std::unique_ptr<PendingExchange> reduce_scatter(const Tensor& in, const Tensor& out) = 0;
    // in, out [S*n, ...]: rows [r*n, (r+1)*n) of `in` go to rank r, and rows [r*n, (r+1)*n) of
    // `out` come from rank r (Ulysses' head <-> token re-layout). Must not alias.
    virtual std::unique_ptr<PendingExchange> all_to_all(const Tensor& in, const Tensor& out) = 0;
    // x = the sum over the group of every rank's x, in place (the gradient sum). The MPI
    // communicator also takes a device tensor, through a host copy (no CUDA-aware MPI assumed):
    // correct, not fast.
    virtual std::unique_ptr<PendingExchange> all_reduce(const Tensor& x) = 0;
    // The host waits until every exchange started so far has completed (NCCL: the compute
    // stream, which waits on them; MPI: nothing, its waits are on the host already), under the
    // watchdog (communicator.cpp).
    void synchronize();

    // --- host values (blocking, under the watchdog) ---------------------------------------------
    virtual void all_reduce_sum(double* values, int count) = 0;
    virtual void all_reduce_max(int64_t* values, int count) = 0;
    // `bytes` bytes at `data` as rank `root` has them, on every rank.
    virtual void broadcast(void* data, int64_t bytes, int root) = 0;
    // Every rank's `mine` (any length), in rank order.
    virtual std::vector<std::vector<int32_t>> all_gather_varying(const std::vector<int32_t>& mine) = 0;
    virtual void barrier() = 0;

    // Built on the above, the same for every implementation (communicator.cpp).
    // The stop vote: true on every rank when `mine` is true on any.
    bool any(bool mine);
    std::string broadcast(const std::string& text, int root);
    // The collective error (parallel/collective_error.h): every rank calls at the same point;
    // when any rank has an error, every rank throws UniformError with the lowest such rank's
    // message, prefixed "rank N: " (the rank in this group). `error` empty: this rank is fine.
    void fail_together(const std::string& error);
    // Runs `check` on every rank; if it throws on any, every rank throws UniformError with the
    // lowest such rank's message: as it is when that is rank 0 (what a one-rank run would say),
    // else prefixed "rank N: ".
    void check_together(const std::function<void()>& check);

    // --- USP (Ulysses x ring): the two sub-groups of this SP group ----------------------------
    // Ulysses group: the U adjacent ranks [p - p % U, p - p % U + U) of SP rank p, rank p % U
    // in it; ring group: the R = S / U ranks with the same p % U, rank p / U in it. Set by
    // whoever makes the communicator (make_mpi_communicator, make_communicators) when 1 < U < S;
    // null otherwise.
    void set_usp_groups(std::unique_ptr<Communicator> ulysses, std::unique_ptr<Communicator> ring) {
        ulysses_ = std::move(ulysses);
        ring_ = std::move(ring);
    }
    Communicator* ulysses_group() const { return ulysses_.get(); }
    Communicator* ring_group() const { return ring_.get(); }

    // Seconds spent in wait() since the last call (and reset it), the sub-groups' included.
    double take_wait_seconds() {
        double seconds = wait_seconds_;
        wait_seconds_ = 0;
        if (ulysses_) seconds += ulysses_->take_wait_seconds();
        if (ring_) seconds += ring_->take_wait_seconds();
        return seconds;
    }

    // Bytes this rank sent since the last call (and reset it), the sub-groups' included. What
    // leaves the rank by the operation's definition, whatever algorithm the library runs:
    //   ring_shift: the tensors sent;  all_gather: (S-1) x in;  reduce_scatter, all_to_all:
    //   (S-1)/S x in (every block but the rank's own).
    CommunicatorBytes take_bytes_sent() {
        CommunicatorBytes bytes = bytes_sent_;
        bytes_sent_ = CommunicatorBytes{};
        for (Communicator* group : {ulysses_.get(), ring_.get()}) {
            if (!group) continue;
            const CommunicatorBytes more = group->take_bytes_sent();
            bytes.ring_shift += more.ring_shift;
            bytes.all_gather += more.all_gather;
            bytes.reduce_scatter += more.reduce_scatter;
            bytes.all_to_all += more.all_to_all;
        }
        return bytes;
    }

protected:
    // What synchronize() waits for (NCCL: the compute stream).
    virtual void wait_for_device() {}

    // Implementations call these when they start an exchange (`bytes`: of one rank's `in`).
    void count_ring_shift(const std::vector<Tensor>& send) {
        for (const Tensor& t : send) bytes_sent_.ring_shift += static_cast<int64_t>(t.bytes());
    }
    void count_all_gather(const Tensor& in) {
        bytes_sent_.all_gather += static_cast<int64_t>(in.bytes()) * (size() - 1);
    }
    void count_reduce_scatter(const Tensor& in) {
        bytes_sent_.reduce_scatter += static_cast<int64_t>(in.bytes()) / size() * (size() - 1);
    }
    void count_all_to_all(const Tensor& in) {
        bytes_sent_.all_to_all += static_cast<int64_t>(in.bytes()) / size() * (size() - 1);
    }

    double wait_seconds_ = 0;

private:
    CommunicatorBytes bytes_sent_;
    std::unique_ptr<Communicator> ulysses_, ring_;
};

}  // namespace ringlm
