// One ring attention step per variant (batch_ring, batch_zigzag, batch_stripe, varlen_llama3),
// then Ulysses (U = S) and USP (U = 2 x R = S / 2, batch_zigzag over the ring groups; from S = 4),
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
//   ring B/s   bytes this rank hands to the network per step (largest over ranks), as the
//              Communicator counts them (Communicator::take_bytes_sent): each ring shift's send
//              tensors, (S-1)x an all-gather's input, (S-1)/S of a reduce-scatter's or all-to-all's
//   ring wait  Communicator::take_wait_seconds as a fraction of the step (largest over ranks):
//              communication the compute did not hide, and waiting for a slower rank
//   CPU FLOP/s the same FLOPs over the busiest rank's process CPU seconds per step: the rate
//              the group would reach with a core per rank and nothing hidden, the figure to
//              read on shared or oversubscribed cores, where the wall-clock step measures the
//              machine's other tenants too
#include "bench_util.h"
#include "parallel/chunk_layout.h"
#include "parallel/mpi_communicator.h"
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

void run_step(Communicator& transport, RingAttnFunc variant, const RingStep& step, bool with_backward) {
    Tape tape;
    const Tensor out = ring_attention(tape, transport, variant, step.in);
    if (!with_backward) return;
    Grads grads;
    tape.backward(out, step.dout, grads);
}

// The row label: the variant, or Ulysses / USP with the ring variant it runs over R.
std::string step_label(RingAttnFunc variant, int ulysses_degree, int world) {
    if (ulysses_degree == world) return "ulysses";
    if (ulysses_degree > 1)
        return fmt::format("usp {}x{} {}", ulysses_degree, world / ulysses_degree, name(variant));
    return std::string(name(variant));
}

// range(3): Ulysses degree U, 0 = S (Ulysses alone), 1 = the ring variant alone.
void BM_RingStep(benchmark::State& state) {
    const auto variant = static_cast<RingAttnFunc>(state.range(0));
    const int64_t tokens = state.range(1);
    const bool with_backward = state.range(2) != 0;
    int world = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    const int ulysses_degree = state.range(3) == 0 ? world : static_cast<int>(state.range(3));
    const char* skip = nullptr;
    if (world < 2) {
        skip = "ring step: run under mpiexec -np 2 (or more)";
    } else if (state.range(3) > 1 && ulysses_degree >= world) {
        skip = "usp: U x R needs R > 1 (run with more ranks)";
    } else if (world % ulysses_degree != 0) {
        skip = "usp: U must divide the ranks";
    }
    if (skip) {
        state.SkipWithError(skip);
        for (auto _ : state) {
        }
        return;
    }
    MpiComm ulysses_comm, ring_comm;
    if (ulysses_degree > 1 && ulysses_degree < world)
        split_usp_groups(MPI_COMM_WORLD, ulysses_degree, ulysses_comm, ring_comm);
    std::unique_ptr<Communicator> transport = make_mpi_communicator(MPI_COMM_WORLD, ulysses_comm.get(), ring_comm.get());
    RingStep step = make_ring_step(variant, tokens, transport->size(), transport->rank());
    step.in.ulysses_degree = ulysses_degree;
    for (int64_t i = 0; i < warmup_steps; i++) run_step(*transport, variant, step, with_backward);
    transport->take_bytes_sent();
    transport->take_wait_seconds();

    // CPU time inside the step only: MPI's barriers poll, and on shared cores that polling
    // would count as work on the rank that arrives first.
    double step_seconds = 0, cpu_seconds = 0;
    for (auto _ : state) {
        check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier (ring bench)");
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = process_cpu_seconds();
        run_step(*transport, variant, step, with_backward);
        cpu_seconds += process_cpu_seconds() - cpu_start;
        check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier (ring bench)");
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        state.SetIterationTime(seconds);
        step_seconds += seconds;
    }
    const double busiest_cpu_seconds = max_over_ranks(cpu_seconds);
    const double wait_fraction = max_over_ranks(transport->take_wait_seconds() / step_seconds);
    const double bytes_sent = max_over_ranks(static_cast<double>(transport->take_bytes_sent().total()));
    const double flops = (with_backward ? 1 + attention_backward_flop_ratio : 1.0) * step.forward_flops;
    state.SetLabel(step_label(variant, ulysses_degree, world) + (with_backward ? " fwd+bwd" : " fwd") +
                   " S=" + std::to_string(world));
    state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["ring B/s"] = benchmark::Counter(bytes_sent, benchmark::Counter::kIsRate);
    state.counters["ring wait"] = benchmark::Counter(wait_fraction);
    const double steps = static_cast<double>(state.iterations());
    state.counters["CPU FLOP/s"] = benchmark::Counter(flops * steps / busiest_cpu_seconds);
}

}  // namespace

BENCHMARK(BM_RingStep)
    ->ArgNames({"variant", "T", "backward", "U"})
    ->ArgsProduct({{static_cast<int64_t>(RingAttnFunc::batch_ring), static_cast<int64_t>(RingAttnFunc::batch_zigzag),
                    static_cast<int64_t>(RingAttnFunc::batch_stripe), static_cast<int64_t>(RingAttnFunc::varlen_llama3)},
                   {4096, 8192},
                   {0, 1},
                   {1}})
    ->Iterations(measured_steps)
    ->Repetitions(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Ulysses (U = S; zigzag chunks) and USP 2 x S/2 (zigzag over the ring groups).
BENCHMARK(BM_RingStep)
    ->ArgNames({"variant", "T", "backward", "U"})
    ->ArgsProduct({{static_cast<int64_t>(RingAttnFunc::batch_zigzag)}, {4096, 8192}, {0, 1}, {0, 2}})
    ->Iterations(measured_steps)
    ->Repetitions(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace ringlm
