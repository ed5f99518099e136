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

    // Seconds spent in wait() since the last call (and reset it).
    double take_wait_seconds() {
        const double seconds = wait_seconds_;
        wait_seconds_ = 0;
        return seconds;
    }

protected:
    double wait_seconds_ = 0;
};

}  // namespace ringlm
