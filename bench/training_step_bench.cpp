// The optimizer and the whole training step of the peer model (src/train/bench.h
// peer_model_config: Llama dim 512, 8 layers, 8 heads / 2 KV heads, ffn 1376, vocab 4096, tied;
// 24.26 M parameters), through the trainer's own code.
//   AdamWStep     adamw_step on the model's buffers: the global gradient norm (reads g) and
//                 the update (reads p, g, m, v; writes p, m, v): 8 x 4 bytes per parameter.
//   TrainingStep  `ringlm bench`'s step (make_bench_setup: the trainer's setup on a synthetic
//                 token file; accumulate_gradients + adamw_step): data read, forward, backward,
//                 clipping, AdamW, on 1 thread. Counters: tokens/s, and model FLOP/s by
//                 model_flops.h's model_flops_per_step (6 N_matmul tokens + causal attention).
// Fixed iterations after one warm-up step: a step takes seconds on a CPU core. Rates are over
// the CPU time of the calling thread, as in ops_bench.cpp (all of the work at one
// thread; on a shared machine wall time also measures the other tenants: both columns print).
#include "backend/cpu/cpu_threads.h"
#include "train/bench.h"
#include "train/optimizer.h"
#include "train/trainer.h"

#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <filesystem>

namespace ringlm {
namespace {

constexpr double learning_rate = 1e-4;

void BM_AdamWStep(benchmark::State& state) {
    Llama model = make_llama(peer_model_config());
    backend(model.parameters).fill(model.parameters, 0.5);
    backend(model.gradients).fill(model.gradients, 0.01);
    AdamW optimizer = make_adamw(model, AdamWSettings{});
    for (auto _ : state) adamw_step(optimizer, model, learning_rate, 1.0);
    const double n = static_cast<double>(model.n_parameters());
    state.SetLabel(fmt::format("{:.2f} M parameters, {} thread(s)", n / 1e6, cpu_threads()));
    state.counters["bytes/s"] = benchmark::Counter(8 * 4 * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AdamWStep)->Unit(benchmark::kMillisecond);

void BM_TrainingStep(benchmark::State& state) {
    BenchPoint point;
    point.model = peer_model_config();
    point.micro_batch = state.range(0);
    point.sequence_len = state.range(1);
    point.threads = 1;
    point.warmup_steps = 1;
    point.measured_steps = state.max_iterations;
    point.work_dir = (std::filesystem::temp_directory_path() / "ringlm_bench").string();
    const int threads_before = cpu_threads();
    TrainingSetup setup = make_bench_setup(point);  // sets this process to point.threads
    AdamW optimizer = make_adamw(setup.model, AdamWSettings{});
    int64_t step = 0;
    auto train_step = [&] {
        const StepResult result = accumulate_gradients(setup, step++);
        adamw_step(optimizer, setup.model, learning_rate, result.loss_tokens);
    };
    for (int64_t i = 0; i < point.warmup_steps; i++) train_step();
    for (auto _ : state) train_step();
    set_cpu_threads(threads_before);

    const int64_t sequences = setup.sampler->rows_per_step();
    state.SetLabel(fmt::format("{} x {} tokens, {} thread", sequences, point.sequence_len, point.threads));
    state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(sequences * point.sequence_len),
                                                    benchmark::Counter::kIsIterationInvariantRate);
    state.counters["FLOP/s"] =
        benchmark::Counter(model_flops_per_step(setup.model.config, point.sequence_len, sequences),
                           benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TrainingStep)
    ->ArgNames({"batch", "T"})
    ->Args({2, 1024})
    ->Iterations(3)
    ->Repetitions(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringlm
