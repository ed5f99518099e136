// The MPI communicator: MPI_Isend/MPI_Irecv for the ring, MPI_Iallgather and
// MPI_Ireduce_scatter_block for the all-gather variants, MPI_Ialltoall for Ulysses, MPI_Iallreduce
// for the gradients; blocking MPI_Allreduce / MPI_Bcast / MPI_Allgatherv for host values. MPI
// moves host tensors; device tensors go through host copies (StagedPending), which is how ranks
// that share one GPU exchange (NCCL refuses two ranks on one GPU). Floating tensors are f32
// (the ring's partials are fp32 by design) or bf16 (bf16 activations' q, k, v), i32 for indices
// and segments.
#include "parallel/mpi_communicator.h"

#include "backend/backend.h"
#include "parallel/topology.h"
#include "parallel/watchdog.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>

namespace ringlm {

namespace {

MPI_Datatype mpi_type(const Tensor& t) {
    switch (t.dtype()) {
        case DType::f32: return MPI_FLOAT;
        case DType::f64: return MPI_DOUBLE;
        case DType::i32: return MPI_INT32_T;
        case DType::i64: return MPI_INT64_T;
        case DType::bf16: return MPI_UINT16_T;  // moved as bits, never summed (the sums refuse it)
        default: fail("mpi transport: cannot send {}", t.describe());
    }
}

int mpi_count(const Tensor& t, const char* what) {
    if (t.numel() > INT32_MAX) fail("mpi transport: {} of {} elements exceeds MPI's int count", what, t.numel());
    if (t.device() != Device::cpu) fail("mpi transport: {} is on {}, the MPI transport moves host tensors", what, device_name(t.device()));
    return static_cast<int>(t.numel());
}

// An exchange in flight: its requests in stages, each waited on under a watchdog guard that
// names what it waits for (the ring: first the receive from the previous rank, then the send to
// the next, so a hang names the neighbour that did not answer).
class MpiPending final : public PendingExchange {
public:
    struct Stage {
        std::vector<MPI_Request> requests;
        const char* operation;  // for the watchdog and errors: "ring receive from", "all-gather ..."
        int peer;               // world rank for point to point; -1 for a collective of the group
    };
    MpiPending(double& wait_seconds, int ranks) : wait_seconds_(wait_seconds), ranks_(ranks) {}
    ~MpiPending() override {
        try {
            wait();
        } catch (...) {  // a destructor must not throw; wait() already turned the failure into a message
        }
    }
    void wait() override {
        std::vector<Stage> waiting = std::move(stages);
        stages.clear();
        for (Stage& stage : waiting) wait_for(stage);
    }
    std::vector<Stage> stages;

private:
    void wait_for(Stage& stage) {
        if (stage.requests.empty()) return;
        WatchdogGuard guard(stage.operation, ranks_, stage.peer);
        const auto start = std::chrono::steady_clock::now();
        std::vector<MPI_Status> statuses(stage.requests.size());
        // Poll, then nap between polls: a rank waiting on its ring neighbour gives the core back
        // (with more ranks than free cores, MPI_Waitall's busy polling takes the very CPU time
        // the rank it waits for needs; measured 10% off the S=2 step on a shared 2-core node).
        // The first 100 us poll without a pause, so a message that is nearly there costs nothing.
        int code = MPI_SUCCESS, done = 0;
        while (true) {
            code = MPI_Testall(static_cast<int>(stage.requests.size()), stage.requests.data(), &done, statuses.data());
            if (code != MPI_SUCCESS || done) break;
            if (std::chrono::steady_clock::now() - start > std::chrono::microseconds(100))
                std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
        wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (code != MPI_SUCCESS) {
            const std::string what = stage.peer >= 0 ? fmt::format("{} rank {}", stage.operation, stage.peer)
                                                     : std::string(stage.operation);
            check_mpi(code, what.c_str());
        }
    }

    double& wait_seconds_;
    int ranks_;
};

// An exchange of host copies of device tensors: the inputs were copied to the host before it
// started; wait() completes it, then copies each host output into its device tensor. It owns
// the host copies of the inputs too: MPI reads them until the exchange completes, and a freed
// one would go back to the allocator's cache for the next tensor of its size. No CUDA-aware
// MPI is assumed; the copies are synchronous, so nothing overlaps: correct, not fast.
class StagedPending final : public PendingExchange {
public:
    using CopyBack = std::vector<std::pair<Tensor, Tensor>>;  // (tensor of the caller, its host copy)
    StagedPending(std::unique_ptr<PendingExchange> exchange, std::vector<Tensor> host_inputs, CopyBack copy_back)
        : exchange_(std::move(exchange)), host_inputs_(std::move(host_inputs)), copy_back_(std::move(copy_back)) {}
    ~StagedPending() override {
        try {
            wait();
        } catch (...) {  // a destructor must not throw; the exchange's own wait reports its failure
        }
    }
    void wait() override {
        if (!exchange_) return;
        exchange_->wait();  // on failure the buffers stay with this object (the job stops on the error)
        exchange_.reset();
        for (auto& [tensor, host] : copy_back_) backend(tensor).copy(tensor, host);
        copy_back_.clear();
        host_inputs_.clear();
    }

private:
    std::unique_ptr<PendingExchange> exchange_;
    std::vector<Tensor> host_inputs_;
    CopyBack copy_back_;
};

// The world rank of `rank` of `comm`, for messages (the watchdog names peers by world rank).
int world_rank_of(MPI_Comm comm, int rank) {
    MPI_Group group = MPI_GROUP_NULL, world = MPI_GROUP_NULL;
    MPI_Comm_group(comm, &group);
    MPI_Comm_group(MPI_COMM_WORLD, &world);
    int world_rank = rank;
    MPI_Group_translate_ranks(group, 1, &rank, world, &world_rank);
    MPI_Group_free(&group);
    MPI_Group_free(&world);
    return world_rank;
}

class MpiCommunicator final : public Communicator {
public:
    MpiCommunicator(MPI_Comm comm, MpiStaging staging) : comm_(comm), staging_(staging) {
        MPI_Comm_size(comm_, &size_);
        MPI_Comm_rank(comm_, &rank_);
        next_world_ = world_rank_of(comm_, (rank_ + 1) % size_);
        previous_world_ = world_rank_of(comm_, (rank_ + size_ - 1) % size_);
    }
    int size() const override { return size_; }
    int rank() const override { return rank_; }

    std::unique_ptr<PendingExchange> ring_shift(const std::vector<Tensor>& send,
                                                const std::vector<Tensor>& receive) override {
        if (send.size() != receive.size()) fail("ring_shift: {} tensors sent, {} received", send.size(), receive.size());
        return on_host(send, receive, [this](const std::vector<Tensor>& in, const std::vector<Tensor>& out) {
            return ring_shift_on_host(in, out);
        });
    }
    std::unique_ptr<PendingExchange> all_gather(const Tensor& in, const Tensor& out) override {
        return on_host({in}, {out}, [this](const std::vector<Tensor>& i, const std::vector<Tensor>& o) {
            return all_gather_on_host(i[0], o[0]);
        });
    }
    std::unique_ptr<PendingExchange> reduce_scatter(const Tensor& in, const Tensor& out) override {
        return on_host({in}, {out}, [this](const std::vector<Tensor>& i, const std::vector<Tensor>& o) {
            return reduce_scatter_on_host(i[0], o[0]);
        });
    }
    std::unique_ptr<PendingExchange> all_to_all(const Tensor& in, const Tensor& out) override {
        return on_host({in}, {out}, [this](const std::vector<Tensor>& i, const std::vector<Tensor>& o) {
            return all_to_all_on_host(i[0], o[0]);
        });
    }
    std::unique_ptr<PendingExchange> all_reduce(const Tensor& x) override {
        if (x.dtype() != DType::f32) fail("all_reduce: {} (the MPI communicator sums f32)", x.describe());
        return on_host({x}, {x}, [this](const std::vector<Tensor>& i, const std::vector<Tensor>&) {
            return all_reduce_on_host(i[0]);
        });
    }

    void all_reduce_sum(double* values, int count) override {
        watched_allreduce(values, count, MPI_DOUBLE, MPI_SUM, "MPI_Allreduce (sum of host values)");
    }
    void all_reduce_max(int64_t* values, int count) override {
        watched_allreduce(values, count, MPI_INT64_T, MPI_MAX, "MPI_Allreduce (max of host values)");
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        if (bytes > INT_MAX) fail("broadcast: {} bytes exceed MPI's int count", bytes);
        WatchdogGuard guard("MPI_Bcast", size_);
        check_mpi(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_), "MPI_Bcast");
    }
    std::vector<std::vector<int32_t>> all_gather_varying(const std::vector<int32_t>& mine) override {
        WatchdogGuard guard("MPI_Allgather / MPI_Allgatherv", size_);
        const int my_count = static_cast<int>(mine.size());
        std::vector<int> counts(static_cast<size_t>(size_)), displacements(static_cast<size_t>(size_));
        check_mpi(MPI_Allgather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_), "MPI_Allgather (counts)");
        int64_t total = 0;
        for (int r = 0; r < size_; r++) {
            displacements[static_cast<size_t>(r)] = static_cast<int>(total);
            total += counts[static_cast<size_t>(r)];
        }
        if (total > INT_MAX) fail("all_gather_varying: {} values exceed MPI's int count", total);
        std::vector<int32_t> all(static_cast<size_t>(total));
        check_mpi(MPI_Allgatherv(mine.data(), my_count, MPI_INT32_T, all.data(), counts.data(), displacements.data(),
                                 MPI_INT32_T, comm_),
                  "MPI_Allgatherv");
        std::vector<std::vector<int32_t>> out(static_cast<size_t>(size_));
        for (int r = 0; r < size_; r++) {
            const auto first = all.begin() + displacements[static_cast<size_t>(r)];
            out[static_cast<size_t>(r)].assign(first, first + counts[static_cast<size_t>(r)]);
        }
        return out;
    }
    void barrier() override {
        WatchdogGuard guard("MPI_Barrier", size_);
        check_mpi(MPI_Barrier(comm_), "MPI_Barrier");
    }

private:
    using HostExchange = std::function<std::unique_ptr<PendingExchange>(const std::vector<Tensor>& in,
                                                                        const std::vector<Tensor>& out)>;
    // exchange(in, out) on host tensors: the tensors themselves when all are on the host (and
    // staging is not forced), else host copies of the inputs, and host outputs copied into
    // `outputs` by the returned exchange's wait(). An output that is an input (all_reduce's
    // in place) shares the input's host copy. The copies live in the tensor's backend's staging
    // memory (page-locked on a GPU).
    std::unique_ptr<PendingExchange> on_host(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
                                             const HostExchange& exchange) {
        const auto on_device = [](const Tensor& t) { return t.device() != Device::cpu; };
        const bool staged = staging_ == MpiStaging::every_tensor || std::any_of(inputs.begin(), inputs.end(), on_device) ||
                            std::any_of(outputs.begin(), outputs.end(), on_device);
        if (!staged) return exchange(inputs, outputs);
        std::vector<Tensor> host_inputs, host_outputs;
        for (const Tensor& t : inputs) {
            host_inputs.push_back(backend(t).empty_staging(t.shape(), t.dtype()));
            backend(t).copy(host_inputs.back(), t);
        }
        StagedPending::CopyBack copy_back;
        for (const Tensor& t : outputs) {
            const auto input = std::find_if(inputs.begin(), inputs.end(), [&](const Tensor& i) {
                return i.raw() == t.raw() && i.numel() == t.numel();
            });
            host_outputs.push_back(input != inputs.end() ? host_inputs[static_cast<size_t>(input - inputs.begin())]
                                                         : backend(t).empty_staging(t.shape(), t.dtype()));
            copy_back.emplace_back(t, host_outputs.back());
        }
        std::unique_ptr<PendingExchange> started = exchange(host_inputs, host_outputs);
        return std::make_unique<StagedPending>(std::move(started), std::move(host_inputs), std::move(copy_back));
    }

    std::unique_ptr<PendingExchange> ring_shift_on_host(const std::vector<Tensor>& send,
                                                        const std::vector<Tensor>& receive) {
        auto pending = std::make_unique<MpiPending>(wait_seconds_, size_);
        pending->stages = {{{}, "ring receive from", previous_world_}, {{}, "ring send to", next_world_}};
        const int next = (rank_ + 1) % size_, previous = (rank_ + size_ - 1) % size_;
        count_ring_shift(send);
        for (size_t i = 0; i < send.size(); i++) {
            if (send[i].numel() != receive[i].numel() || send[i].dtype() != receive[i].dtype())
                fail("ring_shift: sends {} but receives into {}", send[i].describe(), receive[i].describe());
            MPI_Request request;
            check_mpi(MPI_Irecv(receive[i].raw(), mpi_count(receive[i], "ring receive"), mpi_type(receive[i]), previous,
                                static_cast<int>(i), comm_, &request),
                      "ring receive (MPI_Irecv)");
            pending->stages[0].requests.push_back(request);
            check_mpi(MPI_Isend(send[i].raw(), mpi_count(send[i], "ring send"), mpi_type(send[i]), next,
                                static_cast<int>(i), comm_, &request),
                      "ring send (MPI_Isend)");
            pending->stages[1].requests.push_back(request);
        }
        return pending;
    }

    std::unique_ptr<PendingExchange> all_gather_on_host(const Tensor& in, const Tensor& out) {
        if (out.numel() != in.numel() * size_ || in.dtype() != out.dtype())
            fail("all_gather: {} from each of {} ranks into {}", in.describe(), size_, out.describe());
        count_all_gather(in);
        auto pending = std::make_unique<MpiPending>(wait_seconds_, size_);
        MPI_Request request;
        check_mpi(MPI_Iallgather(in.raw(), mpi_count(in, "all-gather input"), mpi_type(in), out.raw(),
                                 mpi_count(in, "all-gather input"), mpi_type(out), comm_, &request),
                  "all-gather (MPI_Iallgather)");
        pending->stages.push_back({{request}, "all-gather of the sequence-parallel group (MPI_Iallgather)", -1});
        return pending;
    }

    std::unique_ptr<PendingExchange> reduce_scatter_on_host(const Tensor& in, const Tensor& out) {
        if (in.numel() != out.numel() * size_ || in.dtype() != out.dtype())
            fail("reduce_scatter: {} from each of {} ranks into {}", in.describe(), size_, out.describe());
        if (in.dtype() != DType::f32 && in.dtype() != DType::f64)  // bf16 moves as bits: MPI cannot sum it
            fail("reduce_scatter: {} (the MPI communicator sums f32 or f64)", in.describe());
        count_reduce_scatter(in);
        auto pending = std::make_unique<MpiPending>(wait_seconds_, size_);
        MPI_Request request;
        check_mpi(MPI_Ireduce_scatter_block(in.raw(), out.raw(), mpi_count(out, "reduce-scatter output"), mpi_type(in),
                                            MPI_SUM, comm_, &request),
                  "reduce-scatter (MPI_Ireduce_scatter_block)");
        pending->stages.push_back(
            {{request}, "reduce-scatter of the sequence-parallel group (MPI_Ireduce_scatter_block)", -1});
        return pending;
    }

    std::unique_ptr<PendingExchange> all_to_all_on_host(const Tensor& in, const Tensor& out) {
        if (in.numel() != out.numel() || in.numel() % size_ != 0 || in.dtype() != out.dtype())
            fail("all_to_all: {} into {} over {} ranks (equal sizes, a multiple of the ranks)", in.describe(),
                 out.describe(), size_);
        count_all_to_all(in);
        auto pending = std::make_unique<MpiPending>(wait_seconds_, size_);
        const int block = mpi_count(in, "all-to-all input") / size_;
        mpi_count(out, "all-to-all output");
        MPI_Request request;
        check_mpi(MPI_Ialltoall(in.raw(), block, mpi_type(in), out.raw(), block, mpi_type(out), comm_, &request),
                  "all-to-all (MPI_Ialltoall)");
        pending->stages.push_back({{request}, "all-to-all of the sequence-parallel group (MPI_Ialltoall)", -1});
        return pending;
    }

    std::unique_ptr<PendingExchange> all_reduce_on_host(const Tensor& x) {
        auto pending = std::make_unique<MpiPending>(wait_seconds_, size_);
        // MPI counts are int: reduce in pieces past 2^31 elements.
        for (int64_t offset = 0; offset < x.numel(); offset += INT_MAX) {
            const int n = static_cast<int>(std::min<int64_t>(INT_MAX, x.numel() - offset));
            MPI_Request request;
            check_mpi(MPI_Iallreduce(MPI_IN_PLACE, x.data<float>() + offset, n, MPI_FLOAT, MPI_SUM, comm_, &request),
                      "all-reduce (MPI_Iallreduce)");
            pending->stages.push_back({{request}, "all-reduce (MPI_Iallreduce)", -1});
        }
        return pending;
    }

private:
    // MPI_Allreduce in place, under the watchdog; `what` names it there and in errors (a string
    // literal: the watchdog thread reads it later).
    void watched_allreduce(void* values, int count, MPI_Datatype type, MPI_Op op, const char* what) {
        WatchdogGuard guard(what, size_);
        check_mpi(MPI_Allreduce(MPI_IN_PLACE, values, count, type, op, comm_), what);
    }

    MPI_Comm comm_;
    MpiStaging staging_;
    int size_ = 1, rank_ = 0;
    int next_world_ = 0, previous_world_ = 0;  // the ring's neighbours as world ranks
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm, MPI_Comm ulysses_comm, MPI_Comm ring_comm,
                                                    MpiStaging staging) {
    auto communicator = std::make_unique<MpiCommunicator>(comm, staging);
    if (ulysses_comm != MPI_COMM_NULL && ring_comm != MPI_COMM_NULL)
        communicator->set_usp_groups(std::make_unique<MpiCommunicator>(ulysses_comm, staging),
                                     std::make_unique<MpiCommunicator>(ring_comm, staging));
    return communicator;
}

}  // namespace ringlm
