// Transport: how the ranks of a sequence-parallel group exchange tensors. One interface, two
// implementations: MPI (mpi_transport.cpp, host tensors) and NCCL (cuda/nccl_transport.cpp,
// device tensors). Ring attention talks only to this; nothing above the parallel layer knows
// which one runs.
//
// Every exchange is non-blocking: start it, compute, then wait() on what it returned. The
// time spent inside wait() is the "ring wait" of the metrics: communication the compute did
// not hide (MPI). The NCCL transport's wait() only orders the GPU's compute stream after the
// exchange, so its host wait is near zero and unhidden communication shows as a longer step.
//
// This header needs no MPI (the NCCL transport builds in the GPU check's core-only build);
// make_mpi_transport is in parallel/mpi_transport.h.
#pragma once

#include "tensor/tensor.h"

#include <memory>
#include <vector>

namespace ringlm {

// An exchange in flight. wait() completes it (idempotent); the destructor waits too, so a
// buffer is never reused while the network still writes into it.
class PendingExchange {
public:
    virtual ~PendingExchange() = default;
    virtual void wait() = 0;
};

// Bytes sent by one rank, per kind of exchange (Transport::take_bytes_sent).
struct TransportBytes {
    int64_t ring_shift = 0, all_gather = 0, reduce_scatter = 0, all_to_all = 0;
    int64_t total() const { return ring_shift + all_gather + reduce_scatter + all_to_all; }
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual int sp_size() const = 0;
    virtual int sp_rank() const = 0;

    // Ring step: send each of `send` to the next rank (sp_rank + 1 mod S) and receive the
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

    // --- USP (Ulysses x ring): the two sub-groups of this SP group ----------------------------
    // Ulysses group: the U adjacent ranks [p - p % U, p - p % U + U) of SP rank p, rank p % U
    // in it; ring group: the R = S / U ranks with the same p % U, rank p / U in it. Set by
    // whoever makes the transport (make_mpi_transport, the NCCL bootstrap) when 1 < U < S;
    // null otherwise.
    void set_usp_groups(std::unique_ptr<Transport> ulysses, std::unique_ptr<Transport> ring) {
        ulysses_ = std::move(ulysses);
        ring_ = std::move(ring);
    }
    Transport* ulysses_group() const { return ulysses_.get(); }
    Transport* ring_group() const { return ring_.get(); }

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
    TransportBytes take_bytes_sent() {
        TransportBytes bytes = bytes_sent_;
        bytes_sent_ = TransportBytes{};
        for (Transport* group : {ulysses_.get(), ring_.get()}) {
            if (!group) continue;
            const TransportBytes more = group->take_bytes_sent();
            bytes.ring_shift += more.ring_shift;
            bytes.all_gather += more.all_gather;
            bytes.reduce_scatter += more.reduce_scatter;
            bytes.all_to_all += more.all_to_all;
        }
        return bytes;
    }

protected:
    // Implementations call these when they start an exchange (`bytes`: of one rank's `in`).
    void count_ring_shift(const std::vector<Tensor>& send) {
        for (const Tensor& t : send) bytes_sent_.ring_shift += static_cast<int64_t>(t.bytes());
    }
    void count_all_gather(const Tensor& in) {
        bytes_sent_.all_gather += static_cast<int64_t>(in.bytes()) * (sp_size() - 1);
    }
    void count_reduce_scatter(const Tensor& in) {
        bytes_sent_.reduce_scatter += static_cast<int64_t>(in.bytes()) / sp_size() * (sp_size() - 1);
    }
    void count_all_to_all(const Tensor& in) {
        bytes_sent_.all_to_all += static_cast<int64_t>(in.bytes()) / sp_size() * (sp_size() - 1);
    }

    double wait_seconds_ = 0;

private:
    TransportBytes bytes_sent_;
    std::unique_ptr<Transport> ulysses_, ring_;
};

}  // namespace ringlm
