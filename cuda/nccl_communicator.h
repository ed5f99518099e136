// The NCCL transport: the Communicator interface (src/parallel/communicator.h) on Device::cuda
// tensors, over one NCCL communicator. MPI-free: a communicator is made from an ncclUniqueId
// that the caller shares among the ranks (src/cuda/nccl_bootstrap.cpp broadcasts it over
// the matching MPI sub-communicator; the GPU check makes a 1-rank one with no MPI at all).
//
// Streams: every exchange runs on this communicator's own communication stream, ordered against
// the CUDA backend's compute stream by events, never by a host sync:
//   start:  record "ready" on the compute stream; the communication stream waits on it, so a
//           send reads finished data and a receive never overwrites a buffer a kernel queued
//           earlier still reads; then the NCCL calls on the communication stream.
//   wait(): record "done" on the communication stream; the compute stream waits on it, so
//           the kernels queued after wait() see the received data.
// So attention queued between start and wait() overlaps the exchange on the GPU, and wait()
// returns at once: the host time it counts (take_wait_seconds) is near zero; communication the
// compute did not hide shows up as a longer step, not as ring wait.
#pragma once

#include "parallel/communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>

namespace ringlm {

// A fresh id for a new communicator: made by one rank, handed to the others.
ncclUniqueId nccl_unique_id();

// An ncclComm_t (destroyed with the object). Constructing it is collective: every one of the
// `size` ranks that share `id` constructs one with its own `rank`, each on its own `device`
// (NCCL refuses two ranks of one communicator on one GPU).
class NcclComm {
public:
    NcclComm(const ncclUniqueId& id, int rank, int size, int device);
    ~NcclComm();
    NcclComm(const NcclComm&) = delete;
    NcclComm& operator=(const NcclComm&) = delete;
    ncclComm_t get() const { return comm_; }
    int rank() const { return rank_; }
    // ncclCommAbort: ends the operations in flight (a collective waiting on a dead peer) and frees
    // the communicator, from any thread; it is unusable afterwards. The watchdog's abort hook
    // (src/parallel/watchdog.h, registered by nccl_bootstrap.cpp) calls it before MPI_Abort.
    void abort();
    int size() const { return size_; }

private:
    ncclComm_t comm_ = nullptr;
    int rank_ = 0, size_ = 1;
};

// The ring and collectives of one NcclComm's group (an SP group, or the world for the
// gradients). Two NcclCommunicators may share an NcclComm; each has its own communication stream.
class NcclCommunicator final : public Communicator {
public:
    // compute_stream: the stream the tensors' producers and consumers run on (the CUDA
    // backend's, cuda_compute_stream()).
    NcclCommunicator(std::shared_ptr<NcclComm> communicator, cudaStream_t compute_stream);
    ~NcclCommunicator() override;
    NcclCommunicator(const NcclCommunicator&) = delete;
    NcclCommunicator& operator=(const NcclCommunicator&) = delete;

    int size() const override { return communicator_->size(); }
    int rank() const override { return communicator_->rank(); }
    std::unique_ptr<PendingExchange> ring_shift(const std::vector<Tensor>& send,
                                                const std::vector<Tensor>& receive) override;
    std::unique_ptr<PendingExchange> all_gather(const Tensor& in, const Tensor& out) override;
    std::unique_ptr<PendingExchange> reduce_scatter(const Tensor& in, const Tensor& out) override;
    // ncclSend/ncclRecv of every block in one group (NCCL has no all-to-all collective).
    std::unique_ptr<PendingExchange> all_to_all(const Tensor& in, const Tensor& out) override;
    // x = the sum of every rank's x, in place (the gradient all-reduce).
    std::unique_ptr<PendingExchange> all_reduce_sum(const Tensor& x);

    cudaStream_t communication_stream() const { return communication_stream_; }

protected:
    // The host waits for the compute stream, which waits on every exchange (synchronize()).
    void wait_for_device() override;

private:
    // Orders the communication stream after everything queued so far on the compute stream.
    void wait_for_compute();
    // The exchange just queued on the communication stream, holding `tensors` until wait().
    std::unique_ptr<PendingExchange> pending(std::vector<Tensor> tensors);

    std::shared_ptr<NcclComm> communicator_;
    cudaStream_t compute_stream_ = nullptr;
    cudaStream_t communication_stream_ = nullptr;
    cudaEvent_t compute_ready_ = nullptr;  // re-recorded per exchange: a stream wait reads it when queued
};

}  // namespace ringlm
