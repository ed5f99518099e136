#include "train/trainer.h"

#include "model/model_flops.h"
#include "ops/ops.h"
#include "parallel/ring_attention.h"
#include "tensor/allocator.h"
#include "train/checkpoint.h"
#include "train/evaluation.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/mllog.h"
#include "train/stop_signal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace ringlm {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

// NCCL sums device gradients on the GPUs (setup.gradient_allreduce). Otherwise MPI reduces host
// memory (no CUDA-aware MPI is assumed), so device gradients go through a host copy: correct,
// not fast (a device -> host -> device round trip of the whole buffer per step).
void allreduce_gradients(const TrainingSetup& setup, Tensor& gradients) {
    if (setup.gradient_allreduce) return setup.gradient_allreduce(gradients);
    if (gradients.device() == Device::cpu) return allreduce_sum(gradients.data<float>(), gradients.numel());
    Tensor host = empty(gradients.shape(), DType::f32, Device::cpu);
    backend(gradients).copy(host, gradients);
    allreduce_sum(host.data<float>(), host.numel());
    backend(gradients).copy(gradients, host);
}

StepResult accumulate_gradients(TrainingSetup& setup, int64_t step) {
    const Config& c = setup.config;
    Llama& model = setup.model;
    StepResult result;
    const auto compute_start = Clock::now();
    require_gradients(model, "accumulate_gradients");
    backend(model.gradients).fill(model.gradients, 0.0);
    for (int64_t micro = 0; micro < c.training.gradient_accumulation_steps; micro++) {
        const std::vector<PackedRow> rows = setup.sampler->micro_batch(step, micro, setup.topology.dp_rank);
        const TokenBatch batch = make_token_batch(rows, c.data.sequence_len, setup.corpus->reader(), setup.layout);
        result.loss_tokens += static_cast<double>(count_loss_tokens(batch));
        const TokenBatch model_batch = to_device(batch, model.parameters.device());
        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        Tensor loss_sum = sum(tape, llama_token_losses(tape, model, model_batch, setup.forward));
        tape.backward(loss_sum, grads);
        result.loss_sum += backend(loss_sum).sum(loss_sum);
    }
    result.compute_seconds = seconds_since(compute_start);
    if (setup.transport) {
        result.ring_wait_seconds = setup.transport->take_wait_seconds();
        result.ring_compute_seconds = take_ring_compute_seconds();
        result.compute_seconds -= result.ring_wait_seconds;
    }

    const auto allreduce_start = Clock::now();
    if (setup.topology.world_size > 1) {
        allreduce_gradients(setup, model.gradients);
        double totals[2] = {result.loss_sum, result.loss_tokens};
        allreduce_sum(totals, 2);
        result.loss_sum = totals[0];
        result.loss_tokens = totals[1];
    }
    result.allreduce_seconds = seconds_since(allreduce_start);
    return result;
}

namespace {

std::string layout_text(const TrainingSetup& setup) {
    return fmt::format("S={} D={} {}", setup.topology.sp_size, setup.topology.dp_size,
                       setup.topology.sp_size > 1 ? name(setup.variant) : std::string_view("local attention"));
}

// CPU seconds this process has used (all its threads).
double process_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Per step, each the largest over all ranks: the peak bytes in use on the model's device (host
// memory for cpu, GPU memory for cuda); the peak activation bytes, i.e. the peak minus what was
// in use when the step began (parameters, gradients, optimizer state, the data): what forward
// and backward themselves held at most; and the CPU seconds of the busiest rank (below the step
// time when ranks wait or share cores with other work).
struct RankMaxima {
    int64_t peak_bytes = 0, activation_peak_bytes = 0;
    double cpu_seconds = 0;
};

RankMaxima maxima_over_ranks(Device device, size_t bytes_at_step_start, double cpu_seconds) {
    const size_t peak = allocator_for(device).stats().peak_bytes_in_use;
    int64_t values[3] = {static_cast<int64_t>(peak), static_cast<int64_t>(peak - std::min(peak, bytes_at_step_start)),
                         static_cast<int64_t>(cpu_seconds * 1e6)};
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values, 3, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (maxima)");
    return {values[0], values[1], static_cast<double>(values[2]) * 1e-6};
}

bool any_rank_stopping() {
    int stopping = stop_requested() ? 1 : 0;
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, &stopping, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (stop)");
    return stopping != 0;
}

void report_eval(const TrainingSetup& setup, MetricsLog& log, MlLog& mllog, const char* when, int64_t step) {
    if (setup.split.validation.empty()) return;
    const EvalResult eval = evaluate(setup);
    if (setup.topology.rank == 0) {
        fmt::print("eval ({}): loss {:.4f}, perplexity {:.2f} over {} held-out tokens\n", when, eval.loss,
                   eval.perplexity, eval.tokens);
        std::fflush(stdout);
    }
    mllog.eval_accuracy(eval.loss, step);
    log.event(nlohmann::json{{"eval_step", step}, {"eval_loss", eval.loss}, {"eval_perplexity", eval.perplexity},
                             {"eval_tokens", eval.tokens}}
                  .dump());
}

}  // namespace

TrainSummary run_training(TrainingSetup& setup) {
    const Config& c = setup.config;
    const Topology& t = setup.topology;
    const bool rank_zero = t.rank == 0;
    Llama& model = setup.model;
    MlLog mllog(rank_zero && c.output.log_format == LogFormat::mllog);
    mllog.start("init_start");
    AdamW optimizer = make_adamw(model, AdamWSettings{c.training.adam_beta1, c.training.adam_beta2,
                                                      c.training.adam_epsilon, c.training.weight_decay,
                                                      c.training.max_grad_norm});
    TrainSummary summary;
    if (setup.resume_from) {
        summary.first_step = load_checkpoint(*setup.resume_from, model, &optimizer).step;
        if (rank_zero) fmt::print("resuming from {} at step {}\n", *setup.resume_from, summary.first_step);
    }
    // Nothing is written before this point: every input has been checked.
    if (rank_zero) {
        std::filesystem::create_directories(c.output.output_dir);
        std::ofstream(c.output.output_dir + "/config.yaml") << to_yaml(c);
        fmt::print("{}\n", launch_summary(setup));
        fmt::print("data: {} training documents, {} held out; {} steps of {} rows ({} per epoch), packing efficiency "
                   "{:.1f}%\n",
                   setup.split.train.size(), setup.split.validation.size(), setup.total_steps,
                   setup.sampler->rows_per_step(), setup.sampler->steps_per_epoch(),
                   100.0 * setup.sampler->packing_efficiency());
        std::fflush(stdout);
    }
    MPI_Barrier(MPI_COMM_WORLD);  // output_dir exists before any rank opens a file in it
    MetricsLog log(c.output.output_dir, rank_zero);
    mllog.open_file(c.output.output_dir);
    mllog.hyperparameters(setup);
    mllog.end("init_stop");
    mllog.start("run_start");
    install_stop_signal_handlers();
    const std::string config_yaml = to_yaml(c);
    auto save = [&](int64_t steps_done) {
        summary.last_checkpoint = save_run_checkpoint(c.output.output_dir, model, optimizer, steps_done, config_yaml,
                                                      c.output.save_total_limit);
    };

    if (summary.first_step == 0) report_eval(setup, log, mllog, "before training", 0);
    const auto run_start = Clock::now();
    int64_t step = summary.first_step;
    for (; step < setup.total_steps; step++) {
        const auto step_start = Clock::now();
        const double cpu_at_step_start = process_cpu_seconds();
        const size_t bytes_at_step_start = allocator_for(model.parameters.device()).stats().bytes_in_use;
        allocator_for(model.parameters.device()).reset_peak();
        mllog.step_begin(setup, step);
        const StepResult result = accumulate_gradients(setup, step);
        const double loss = result.loss_tokens > 0 ? result.loss_sum / result.loss_tokens : 0.0;
        if (!std::isfinite(loss))
            fail("step {}: the loss is {} (rank {}); lower learning_rate or check the data", step + 1, loss, t.rank);
        const double lr = learning_rate_at(step, setup.total_steps, c.training.warmup_steps, c.training.learning_rate,
                                           c.training.lr_scheduler);
        double grad_norm = 0;
        if (result.loss_tokens > 0) grad_norm = adamw_step(optimizer, model, lr, result.loss_tokens);
        summary.losses.push_back(loss);

        StepMetrics m;
        m.step = step + 1;
        m.total_steps = setup.total_steps;
        m.loss = loss;
        m.learning_rate = lr;
        m.grad_norm = grad_norm;
        m.tokens = static_cast<int64_t>(result.loss_tokens);
        m.step_seconds = seconds_since(step_start);
        m.tokens_per_second = static_cast<double>(setup.sampler->rows_per_step() * c.data.sequence_len) / m.step_seconds;
        m.model_flops_per_second =
            model_flops_per_step(model.config, c.data.sequence_len, setup.sampler->rows_per_step()) / m.step_seconds;
        if (c.output.peak_tflops > 0)
            m.mfu = m.model_flops_per_second / (c.output.peak_tflops * 1e12 * static_cast<double>(t.world_size));
        m.elapsed_seconds = seconds_since(run_start);
        m.eta_seconds = m.elapsed_seconds / static_cast<double>(step + 1 - summary.first_step) *
                        static_cast<double>(setup.total_steps - step - 1);
        m.compute_seconds = result.compute_seconds;
        m.ring_wait_seconds = result.ring_wait_seconds;
        m.ring_compute_seconds = result.ring_compute_seconds;
        m.allreduce_seconds = result.allreduce_seconds;
        const RankMaxima maxima = maxima_over_ranks(model.parameters.device(), bytes_at_step_start,
                                                    process_cpu_seconds() - cpu_at_step_start);
        m.peak_memory_bytes = maxima.peak_bytes;
        m.activation_peak_bytes = maxima.activation_peak_bytes;
        m.cpu_seconds = maxima.cpu_seconds;
        m.layout = layout_text(setup);
        if ((step + 1) % c.output.logging_steps == 0 || step + 1 == setup.total_steps) log.step(m);

        const bool last = step + 1 == setup.total_steps;
        mllog.step_end(setup, step, last);
        if (any_rank_stopping()) {
            if (rank_zero) fmt::print("signal {} received: checkpointing at step {} and stopping\n", stop_signal(), step + 1);
            save(step + 1);
            summary.stopped_by_signal = true;
            step++;
            break;
        }
        if (!last && c.output.save_steps > 0 && (step + 1) % c.output.save_steps == 0) save(step + 1);
        if (!last && c.output.eval_steps > 0 && (step + 1) % c.output.eval_steps == 0)
            report_eval(setup, log, mllog, "during training", step + 1);
    }
    summary.last_step = step;
    if (!summary.stopped_by_signal) {
        if (summary.last_step > summary.first_step || !setup.resume_from) save(summary.last_step);
        report_eval(setup, log, mllog, "after training", summary.last_step);
    }
    mllog.run_stop(!summary.stopped_by_signal);
    return summary;
}

}  // namespace ringlm
