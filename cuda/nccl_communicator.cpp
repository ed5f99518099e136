// NcclComm and NcclCommunicator (see nccl_communicator.h for the stream and event protocol).
#include "nccl_communicator.h"

#include "cuda_check.h"
#include "util/error.h"

#include <chrono>

// Every NCCL call is checked like the CUDA ones: the call, file:line and NCCL's error string.
#define NCCL_CHECK(call)                                                                                     \
    do {                                                                                                     \
        const ncclResult_t nccl_status_ = (call);                                                            \
        if (nccl_status_ != ncclSuccess)                                                                     \
            ::ringlm::kernels::throw_cuda_error("NCCL", #call, ncclGetErrorString(nccl_status_), __FILE__,    \
                                                __LINE__);                                                   \
    } while (0)

namespace ringlm {

namespace {

// NCCL's element type for a tensor: the floating types the model moves (f32 partials and
// gradients, bf16 operands, f64 for checks) and the i32/i64 indices and segments.
ncclDataType_t nccl_type(const Tensor& t, const char* what) {
    switch (t.dtype()) {
        case DType::f32: return ncclFloat32;
        case DType::f64: return ncclFloat64;
        case DType::bf16: return ncclBfloat16;
        case DType::f16: return ncclFloat16;
        case DType::i32: return ncclInt32;
        case DType::i64: return ncclInt64;
    }
    fail("nccl communicator: {} is {}, a dtype NCCL cannot move", what, t.describe());
}

void require_device(const Tensor& t, const char* what) {
    if (!t.defined()) fail("nccl communicator: {} is undefined", what);
    if (t.device() != Device::cuda)
        fail("nccl communicator: {} ({}) is on the {}, the NCCL communicator moves device tensors (the MPI communicator moves "
             "host ones)",
             what, t.describe(), device_name(t.device()));
}

// An exchange queued on the communication stream. wait() makes the compute stream wait for it
// (no host sync) and then lets go of the tensors: from then on the compute stream, the only
// other user of their memory, is ordered after the exchange, so the caching allocator may hand
// the memory out again. Until then the tensors are held here, so a buffer the caller drops
// early cannot be reused while NCCL still writes it.
class NcclPending final : public PendingExchange {
public:
    NcclPending(double& wait_seconds, cudaStream_t communication_stream, cudaStream_t compute_stream,
                std::vector<Tensor> tensors)
        : wait_seconds_(wait_seconds), compute_stream_(compute_stream), tensors_(std::move(tensors)) {
        CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
        CUDA_CHECK(cudaEventRecord(done_, communication_stream));
    }
    ~NcclPending() override {
        try {
            wait();
        } catch (...) {  // a destructor must not throw; a CUDA error resurfaces at the next checked call
        }
        cudaEventDestroy(done_);
    }
    void wait() override {
        if (tensors_.empty()) return;
        const auto start = std::chrono::steady_clock::now();
        CUDA_CHECK(cudaStreamWaitEvent(compute_stream_, done_, 0));
        tensors_.clear();
        wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }

private:
    double& wait_seconds_;
    cudaStream_t compute_stream_;
    cudaEvent_t done_ = nullptr;
    std::vector<Tensor> tensors_;
};

}  // namespace

// --- NcclComm -------------------------------------------------------------------------------

ncclUniqueId nccl_unique_id() {
    ncclUniqueId id;
    NCCL_CHECK(ncclGetUniqueId(&id));
    return id;
}

NcclComm::NcclComm(const ncclUniqueId& id, int rank, int size, int device) : rank_(rank), size_(size) {
    if (size < 1 || rank < 0 || rank >= size) fail("nccl communicator: rank {} of {} ranks", rank, size);
    CUDA_CHECK(cudaSetDevice(device));
    NCCL_CHECK(ncclCommInitRank(&comm_, size, id, rank));
}

NcclComm::~NcclComm() {
    if (comm_) ncclCommDestroy(comm_);
}

void NcclComm::abort() {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
}

// --- communicator -------------------------------------------------------------------------------

NcclCommunicator::NcclCommunicator(std::shared_ptr<NcclComm> communicator, cudaStream_t compute_stream,
                                   std::shared_ptr<Communicator> control)
    : communicator_(std::move(communicator)), compute_stream_(compute_stream), control_(std::move(control)) {
    if (!communicator_) fail("nccl communicator: no communicator");
    // Non-blocking (no implicit sync with the legacy default stream) and at the highest
    // priority, so NCCL's kernels get SMs as soon as attention's blocks leave any.
    int least_priority = 0, greatest_priority = 0;
    CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least_priority, &greatest_priority));
    CUDA_CHECK(cudaStreamCreateWithPriority(&communication_stream_, cudaStreamNonBlocking, greatest_priority));
    CUDA_CHECK(cudaEventCreateWithFlags(&compute_ready_, cudaEventDisableTiming));
}

NcclCommunicator::~NcclCommunicator() {
    // Exchanges still queued finish before their stream goes (the compute stream may wait on them).
    if (communication_stream_) cudaStreamSynchronize(communication_stream_);
    if (compute_ready_) cudaEventDestroy(compute_ready_);
    if (communication_stream_) cudaStreamDestroy(communication_stream_);
}

void NcclCommunicator::wait_for_compute() {
    CUDA_CHECK(cudaEventRecord(compute_ready_, compute_stream_));
    CUDA_CHECK(cudaStreamWaitEvent(communication_stream_, compute_ready_, 0));
}

std::unique_ptr<PendingExchange> NcclCommunicator::pending(std::vector<Tensor> tensors) {
    return std::make_unique<NcclPending>(wait_seconds_, communication_stream_, compute_stream_, std::move(tensors));
}

std::unique_ptr<PendingExchange> NcclCommunicator::ring_shift(const std::vector<Tensor>& send,
                                                           const std::vector<Tensor>& receive) {
    if (send.size() != receive.size()) fail("ring_shift: {} tensors sent, {} received", send.size(), receive.size());
    for (size_t i = 0; i < send.size(); i++) {
        require_device(send[i], "ring send");
        require_device(receive[i], "ring receive");
        if (send[i].numel() != receive[i].numel() || send[i].dtype() != receive[i].dtype())
            fail("ring_shift: sends {} but receives into {}", send[i].describe(), receive[i].describe());
    }
    const int size = communicator_->size(), rank = communicator_->rank();
    const int next = (rank + 1) % size, previous = (rank + size - 1) % size;
    count_ring_shift(send);
    wait_for_compute();
    // All tensors of the step (K, V, their indices and segments) in one group: NCCL runs them as
    // one fused exchange, and pairs each send with the receive of the same position (NCCL keeps
    // the order of send/recv calls between one pair of peers).
    NCCL_CHECK(ncclGroupStart());
    for (size_t i = 0; i < send.size(); i++) {
        NCCL_CHECK(ncclSend(send[i].raw(), static_cast<size_t>(send[i].numel()), nccl_type(send[i], "ring send"), next,
                            communicator_->get(), communication_stream_));
        NCCL_CHECK(ncclRecv(receive[i].raw(), static_cast<size_t>(receive[i].numel()),
                            nccl_type(receive[i], "ring receive"), previous, communicator_->get(),
                            communication_stream_));
    }
    NCCL_CHECK(ncclGroupEnd());
    std::vector<Tensor> held = send;
    held.insert(held.end(), receive.begin(), receive.end());
    return pending(std::move(held));
}

std::unique_ptr<PendingExchange> NcclCommunicator::all_gather(const Tensor& in, const Tensor& out) {
    require_device(in, "all-gather input");
    require_device(out, "all-gather output");
    if (out.numel() != in.numel() * communicator_->size() || in.dtype() != out.dtype())
        fail("all_gather: {} from each of {} ranks into {}", in.describe(), communicator_->size(), out.describe());
    count_all_gather(in);
    wait_for_compute();
    NCCL_CHECK(ncclAllGather(in.raw(), out.raw(), static_cast<size_t>(in.numel()), nccl_type(in, "all-gather input"),
                             communicator_->get(), communication_stream_));
    return pending({in, out});
}

std::unique_ptr<PendingExchange> NcclCommunicator::reduce_scatter(const Tensor& in, const Tensor& out) {
    require_device(in, "reduce-scatter input");
    require_device(out, "reduce-scatter output");
    if (in.numel() != out.numel() * communicator_->size() || in.dtype() != out.dtype())
        fail("reduce_scatter: {} from each of {} ranks into {}", in.describe(), communicator_->size(), out.describe());
    count_reduce_scatter(in);
    wait_for_compute();
    NCCL_CHECK(ncclReduceScatter(in.raw(), out.raw(), static_cast<size_t>(out.numel()),
                                 nccl_type(in, "reduce-scatter input"), ncclSum, communicator_->get(),
                                 communication_stream_));
    return pending({in, out});
}

std::unique_ptr<PendingExchange> NcclCommunicator::all_to_all(const Tensor& in, const Tensor& out) {
    require_device(in, "all-to-all input");
    require_device(out, "all-to-all output");
    const int size = communicator_->size();
    if (in.numel() != out.numel() || in.numel() % size != 0 || in.dtype() != out.dtype())
        fail("all_to_all: {} into {} over {} ranks (equal sizes, a multiple of the ranks)", in.describe(),
             out.describe(), size);
    count_all_to_all(in);
    const size_t block = static_cast<size_t>(in.numel() / size);
    const size_t block_bytes = block * dtype_size(in.dtype());
    const ncclDataType_t type = nccl_type(in, "all-to-all input");
    wait_for_compute();
    // Block r of `in` to rank r, block r of `out` from rank r (the own block too: NCCL copies it).
    NCCL_CHECK(ncclGroupStart());
    for (int r = 0; r < size; r++) {
        NCCL_CHECK(ncclSend(static_cast<const char*>(in.raw()) + r * block_bytes, block, type, r, communicator_->get(),
                            communication_stream_));
        NCCL_CHECK(ncclRecv(static_cast<char*>(out.raw()) + r * block_bytes, block, type, r, communicator_->get(),
                            communication_stream_));
    }
    NCCL_CHECK(ncclGroupEnd());
    return pending({in, out});
}

Communicator& NcclCommunicator::control(const char* what) {
    if (!control_) fail("nccl communicator: {} of host values, but this communicator has no MPI group for them", what);
    return *control_;
}

void NcclCommunicator::wait_for_device() { kernels::wait_for_stream(compute_stream_); }

std::unique_ptr<PendingExchange> NcclCommunicator::all_reduce(const Tensor& x) {
    require_device(x, "all-reduce buffer");
    wait_for_compute();
    NCCL_CHECK(ncclAllReduce(x.raw(), x.raw(), static_cast<size_t>(x.numel()), nccl_type(x, "all-reduce buffer"),
                             ncclSum, communicator_->get(), communication_stream_));
    return pending({x});
}

}  // namespace ringlm
