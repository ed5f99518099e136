// One ring attention step per variant (batch_ring, batch_zigzag, batch_stripe, varlen_llama3),
// forward and forward + backward, through the op training runs (ring_attention on a Tape). Run
// under `mpiexec -np S` (S >= 2): every rank of MPI_COMM_WORLD is one sequence-parallel group.
// Shape: the peer model's attention (H 8, Hkv 2, D 64), one row of T global tokens (one
// document, causal) cut as the data layer cuts it for the variant (chunk_indices).
//
// Each iteration starts after a barrier and ends after one, so its time is the group's step:
// from all ranks starting to the last rank finishing. Iterations and repetitions are fixed
// (bench_main.cpp). Counters (the same on every rank; rank 0 prints):
//   FLOP/s     attention FLOPs of the whole row (bench_util.h: 4 * visible pairs * H * D
//              forward; backward 2.5x) per group step: the group's rate, not one rank's
//   ring B/s   bytes this rank hands to the network per step (largest over ranks): each ring
//              shift's send tensors, (S-1)x an all-gather's input, (S-1)/S of a reduce-scatter's
//   ring wait  Transport::take_wait_seconds as a fraction of the step (largest over ranks):
//              communication the compute did not hide, and waiting for a slower rank
//   CPU FLOP/s the same FLOPs over the busiest rank's process CPU seconds per step: the rate
//              the group would reach with a core per rank and nothing hidden, the figure to
//              read on shared or oversubscribed cores, where the wall-clock step measures the
//              machine's other tenants too
#include "bench_util.h"
#include "data/batch.h"
#include "parallel/mpi_transport.h"
#include "parallel/ring_attention.h"
#include "parallel/topology.h"
#include "train/training_setup.h"

#include <benchmark/benchmark.h>
#include <mpi.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <string>

namespace ringlm {
namespace {

constexpr int64_t heads = 8, kv_heads = 2, head_dim = 64;  // the peer model's attention
constexpr int64_t warmup_steps = 1, measured_steps = 2;

// The MPI transport, counting what this rank sends. The wait seconds stay with the wrapped one.
class CountingTransport final : public Transport {
public:
    explicit CountingTransport(std::unique_ptr<Transport> inner) : inner_(std::move(inner)) {}
    int sp_size() const override { return inner_->sp_size(); }
    int sp_rank() const override { return inner_->sp_rank(); }
    std::unique_ptr<PendingExchange> ring_shift(const std::vector<Tensor>& send,
                                                const std::vector<Tensor>& receive) override {
        for (const Tensor& t : send) bytes_sent += static_cast<double>(t.bytes());
        return inner_->ring_shift(send, receive);
    }
    std::unique_ptr<PendingExchange> all_gather(const Tensor& in, const Tensor& out) override {
        bytes_sent += static_cast<double>(in.bytes()) * (sp_size() - 1);
        return inner_->all_gather(in, out);
    }
    std::unique_ptr<PendingExchange> reduce_scatter(const Tensor& in, const Tensor& out) override {
        bytes_sent += static_cast<double>(in.bytes()) * (sp_size() - 1) / sp_size();
        return inner_->reduce_scatter(in, out);
    }
    double take_inner_wait_seconds() { return inner_->take_wait_seconds(); }
    double bytes_sent = 0;

private:
    std::unique_ptr<Transport> inner_;
};

double max_over_ranks(double value) {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce (ring bench)");
    return value;
}

struct RingStep {
    RingAttentionInputs in;
    Tensor dout;
    double forward_flops = 0;  // of the whole row
};

// This rank's share of one row of `tokens` global tokens, one document, random q, k, v, dout.
RingStep make_ring_step(RingAttnFunc variant, int64_t tokens, int sp_size, int sp_rank) {
    const SequenceLayout layout{chunk_layout_for(variant), sp_size, sp_rank};
    const int64_t padded = padded_row_length(tokens, layout);
    const std::vector<int32_t> index = chunk_indices(padded, layout);
    const int64_t T = static_cast<int64_t>(index.size());
    std::mt19937_64 rng(static_cast<uint64_t>(sp_rank) + 1);
    RingStep step;
    step.in.q = uniform_tensor({T, heads, head_dim}, rng);
    step.in.k = uniform_tensor({T, kv_heads, head_dim}, rng);
    step.in.v = uniform_tensor({T, kv_heads, head_dim}, rng);
    step.in.global_index = from_vector(index, {T});
    step.in.segment_ids = zeros({T}, DType::i32);
    step.in.scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
    step.dout = uniform_tensor({T, heads, head_dim}, rng);
    step.forward_flops = attention_forward_flops(visible_pairs(std::vector<int32_t>(padded, 0), true), heads, head_dim);
    return step;
}

double process_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

void run_step(Transport& transport, RingAttnFunc variant, const RingStep& step, bool with_backward) {
    Tape tape;
    const Tensor out = ring_attention(tape, transport, variant, step.in);
    if (!with_backward) return;
    Grads grads;
    tape.backward(out, step.dout, grads);
}

void BM_RingStep(benchmark::State& state) {
    const auto variant = static_cast<RingAttnFunc>(state.range(0));
    const int64_t tokens = state.range(1);
    const bool with_backward = state.range(2) != 0;
    int world = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world < 2) {
        state.SkipWithError("ring step: run under mpiexec -np 2 (or more)");
        for (auto _ : state) {
        }
        return;
    }
    CountingTransport transport(make_mpi_transport(MPI_COMM_WORLD));
    const RingStep step = make_ring_step(variant, tokens, transport.sp_size(), transport.sp_rank());
    for (int64_t i = 0; i < warmup_steps; i++) run_step(transport, variant, step, with_backward);
    transport.bytes_sent = 0;
    transport.take_inner_wait_seconds();

    // CPU time inside the step only: MPI's barriers poll, and on shared cores that polling
    // would count as work on the rank that arrives first.
    double step_seconds = 0, cpu_seconds = 0;
    for (auto _ : state) {
        check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier (ring bench)");
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = process_cpu_seconds();
        run_step(transport, variant, step, with_backward);
        cpu_seconds += process_cpu_seconds() - cpu_start;
        check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier (ring bench)");
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.SetIterationTime(seconds);
        step_seconds += seconds;
    }
    const double busiest_cpu_seconds = max_over_ranks(cpu_seconds);
    const double wait_fraction = max_over_ranks(transport.take_inner_wait_seconds() / step_seconds);
    const double bytes_sent = max_over_ranks(transport.bytes_sent);
    const double flops = (with_backward ? 1 + attention_backward_flop_ratio : 1.0) * step.forward_flops;
    state.SetLabel(std::string(name(variant)) + (with_backward ? " fwd+bwd" : " fwd") + " S=" + std::to_string(world));
    state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["ring B/s"] = benchmark::Counter(bytes_sent, benchmark::Counter::kIsRate);
    state.counters["ring wait"] = benchmark::Counter(wait_fraction);
    const double steps = static_cast<double>(state.iterations());
    state.counters["CPU FLOP/s"] = benchmark::Counter(flops * steps / busiest_cpu_seconds);
}

}  // namespace

BENCHMARK(BM_RingStep)
    ->ArgNames({"variant", "T", "backward"})
    ->ArgsProduct({{static_cast<int64_t>(RingAttnFunc::batch_ring), static_cast<int64_t>(RingAttnFunc::batch_zigzag),
                    static_cast<int64_t>(RingAttnFunc::batch_stripe), static_cast<int64_t>(RingAttnFunc::varlen_llama3)},
                   {4096, 8192},
                   {0, 1}})
    ->Iterations(measured_steps)
    ->Repetitions(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace ringlm
