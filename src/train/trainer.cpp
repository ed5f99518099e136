#include "train/trainer.h"

#include "data/attention_work.h"
#include "model/model_flops.h"
#include "ops/ops.h"
#include "parallel/ring_attention.h"
#include "parallel/watchdog.h"
#include "tensor/allocator.h"
#include "train/evaluation.h"
#include "train/lr_schedule.h"
#include "train/metrics.h"
#include "train/mllog.h"
#include "train/training_run.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

namespace ringlm {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

// The world communicator sums: NCCL on the GPUs, or MPI (device gradients through a host copy).
// The host waits for the sum, so the step's all-reduce time is measured.
void allreduce_gradients(const TrainingSetup& setup, Tensor& gradients) {
    Communicator& world = *setup.comms.world;
    world.all_reduce(gradients)->wait();
    world.synchronize();
    watchdog_warmup_done();  // the first step's gradients are summed: every rank is past its warm-up
}

namespace {

// result.loss_sum = the micro batches' loss sums of values (host f64), added in order, summed
// over the world.
void set_loss_sum(const TrainingSetup& setup, StepResult& result, const Tensor& values) {
    result.loss_sum = 0;
    for (int64_t micro = 0; micro + 1 < values.numel(); micro++) result.loss_sum += values.data<double>()[micro];
    if (setup.topology.world_size > 1) setup.comms.world->all_reduce_sum(&result.loss_sum, 1);
}

Tensor read_to_host(const Tensor& values) {
    Tensor host = empty(values.shape(), DType::f64);
    backend(values).copy(host, values);
    return host;
}

}  // namespace

Tensor gradient_sum_squares_slot(StepResult& result) {
    const int64_t last = result.step_values.numel() - 1;
    return result.step_values.rows(last, last + 1);
}

double read_step_values(const TrainingSetup& setup, StepResult& result) {
    const Tensor values = read_to_host(result.step_values);
    set_loss_sum(setup, result, values);
    return values.data<double>()[values.numel() - 1];
}

StepResult accumulate_gradients(TrainingSetup& setup, int64_t step, LossRead read) {
    const Config& c = setup.config;
    Llama& model = setup.model;
    StepResult result;
    const auto compute_start = Clock::now();
    require_gradients(model, "accumulate_gradients");
    backend(model.gradients).fill(model.gradients, 0.0);
    // Each micro batch's loss sum stays on the device, one f64 slot each; the host reads them
    // once (one wait, not one per micro batch) and adds them in order.
    const int64_t micro_batches = c.training.gradient_accumulation_steps;
    result.step_values = zeros({micro_batches + 1}, DType::f64, model.parameters.device());
    for (int64_t micro = 0; micro < micro_batches; micro++) {
        const std::vector<PackedRow> rows = setup.sampler->micro_batch(step, micro, setup.topology.dp_rank);
        const TokenBatch batch = make_token_batch(rows, c.data.sequence_len, setup.corpus->reader(), setup.layout);
        result.loss_tokens += static_cast<double>(count_loss_tokens(batch));
        result.attention_pairs.resize(batch.sp_attention_pairs.size());
        for (size_t rank = 0; rank < batch.sp_attention_pairs.size(); rank++)
            result.attention_pairs[rank] += batch.sp_attention_pairs[rank];
        const TokenBatch model_batch = to_device(batch, model.parameters.device());
        Tape tape;
        Grads grads;
        bind_gradients(model, grads);
        Tensor loss_sum = sum(tape, llama_token_losses(tape, model, model_batch, setup.forward));
        tape.backward(loss_sum, grads);
        Tensor slot = result.step_values.rows(micro, micro + 1);
        backend(loss_sum).sum_to(slot, loss_sum);
    }
    result.compute_seconds = seconds_since(compute_start);
    if (setup.topology.sp_size > 1) {
        result.ring_wait_seconds = setup.comms.sp->take_wait_seconds();
        result.ring_compute_seconds = take_ring_compute_seconds();
        result.compute_seconds -= result.ring_wait_seconds;
        result.sp_bytes_sent = setup.comms.sp->take_bytes_sent().total();
    }

    const auto allreduce_start = Clock::now();
    if (setup.topology.world_size > 1) {
        allreduce_gradients(setup, model.gradients);
        setup.comms.world->all_reduce_sum(&result.loss_tokens, 1);
    }
    result.allreduce_seconds = seconds_since(allreduce_start);
    if (read == LossRead::now) set_loss_sum(setup, result, read_to_host(result.step_values));
    return result;
}

namespace {

// "S=4 D=1 varlen_llama3", with "/document" when load_balance cuts rows per document.
std::string layout_text(const TrainingSetup& setup) {
    const Topology& t = setup.topology;
    if (t.sp_size == 1) return fmt::format("S=1 D={} local attention", t.dp_size);
    const std::string document = setup.layout.layout == ChunkLayout::document ? "/document" : "";
    const std::string attention =
        t.ulysses_degree == t.sp_size ? "ulysses" + document
        : t.ulysses_degree > 1 ? fmt::format("usp {}x{} {}{}", t.ulysses_degree, t.sp_size / t.ulysses_degree,
                                             name(setup.variant), document)
                               : std::string(name(setup.variant)) + document;
    return fmt::format("S={} D={} {}", t.sp_size, t.dp_size, attention);
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
// and backward themselves held at most; the CPU seconds of the busiest rank (below the step
// time when ranks wait or share cores with other work); and the attention imbalance of the
// worst SP group (each group knows its own from its rows; groups see different rows).
struct RankMaxima {
    int64_t peak_bytes = 0, activation_peak_bytes = 0;
    double cpu_seconds = 0, attention_imbalance = 1;
};

RankMaxima maxima_over_ranks(Communicator& world, Device device, size_t bytes_at_step_start, double cpu_seconds,
                             double attention_imbalance) {
    const size_t peak = allocator_for(device).stats().peak_bytes_in_use;
    int64_t values[4] = {static_cast<int64_t>(peak), static_cast<int64_t>(peak - std::min(peak, bytes_at_step_start)),
                         static_cast<int64_t>(cpu_seconds * 1e6), std::llround(attention_imbalance * 1e6)};
    world.all_reduce_max(values, 4);
    return {values[0], values[1], static_cast<double>(values[2]) * 1e-6, static_cast<double>(values[3]) / 1e6};
}

// One SFT optimizer step: the gradients of the global batch, AdamW, and what it measured.
StepMetrics sft_step(TrainingSetup& setup, AdamW& optimizer, int64_t step) {
    const Config& c = setup.config;
    Llama& model = setup.model;
    const auto step_start = Clock::now();
    const double cpu_at_step_start = process_cpu_seconds();
    const size_t bytes_at_step_start = allocator_for(model.parameters.device()).stats().bytes_in_use;
    allocator_for(model.parameters.device()).reset_peak();
    StepResult result = accumulate_gradients(setup, step, LossRead::with_update);
    StepMetrics m;
    m.learning_rate = learning_rate_at(step, setup.total_steps, c.training.warmup_steps, c.training.learning_rate,
                                       c.training.lr_scheduler);
    // The update is queued before anything is read back; a non-finite gradient norm skips it
    // on the device. Then one read brings loss and norm, and the run stops on either being
    // non-finite (check_step_finite). A non-finite loss with finite gradients (an infinite
    // logit, say) has updated the weights in memory by then, but nothing is saved after it.
    Tensor sum_squares = gradient_sum_squares_slot(result);
    if (result.loss_tokens > 0) queue_adamw_step(optimizer, model, m.learning_rate, result.loss_tokens, sum_squares);
    const double gradient_sum_squares = read_step_values(setup, result);
    m.loss = result.loss_tokens > 0 ? result.loss_sum / result.loss_tokens : 0.0;
    if (result.loss_tokens > 0) m.grad_norm = finish_adamw_step(optimizer, gradient_sum_squares, result.loss_tokens);
    m.tokens = static_cast<int64_t>(result.loss_tokens);
    m.step_seconds = seconds_since(step_start);
    m.tokens_per_second = static_cast<double>(setup.sampler->rows_per_step() * c.data.sequence_len) / m.step_seconds;
    m.model_flops_per_second =
        model_flops_per_step(model.config, c.data.sequence_len, setup.sampler->rows_per_step()) / m.step_seconds;
    if (c.output.peak_tflops > 0)
        m.mfu = m.model_flops_per_second / (c.output.peak_tflops * 1e12 * static_cast<double>(setup.topology.world_size));
    m.compute_seconds = result.compute_seconds;
    m.ring_wait_seconds = result.ring_wait_seconds;
    m.ring_compute_seconds = result.ring_compute_seconds;
    m.allreduce_seconds = result.allreduce_seconds;
    m.sp_bytes_sent = result.sp_bytes_sent;
    m.sp_bytes_sent_per_layer = result.sp_bytes_sent / (model.config.n_layers * c.training.gradient_accumulation_steps);
    const RankMaxima maxima = maxima_over_ranks(*setup.comms.world, model.parameters.device(), bytes_at_step_start,
                                                process_cpu_seconds() - cpu_at_step_start,
                                                attention_imbalance(result.attention_pairs));
    m.peak_memory_bytes = maxima.peak_bytes;
    m.activation_peak_bytes = maxima.activation_peak_bytes;
    m.cpu_seconds = maxima.cpu_seconds;
    m.attention_imbalance = maxima.attention_imbalance;
    m.layout = layout_text(setup);
    return m;
}

nlohmann::json held_out_loss(const TrainingSetup& setup, MlLog& mllog, std::string_view when, int64_t steps_done) {
    if (setup.split.validation.empty()) return {};
    const EvalResult eval = evaluate(setup);
    if (setup.topology.rank == 0) {
        fmt::print("eval ({}): loss {:.4f}, perplexity {:.2f} over {} held-out tokens\n", when, eval.loss,
                   eval.perplexity, eval.tokens);
        std::fflush(stdout);
    }
    mllog.eval_accuracy(eval.loss, steps_done);
    return {{"eval_loss", eval.loss}, {"eval_perplexity", eval.perplexity}, {"eval_tokens", eval.tokens}};
}

}  // namespace

RunSummary run_training(TrainingSetup& setup) {
    const Config& c = setup.config;
    MlLog mllog(setup.topology.rank == 0 && c.output.log_format == LogFormat::mllog);
    mllog.start("init_start");
    const std::string data = fmt::format(
        "data: {} training documents, {} held out; {} steps of {} rows ({} per epoch), packing efficiency {:.1f}%",
        setup.split.train.size(), setup.split.validation.size(), setup.total_steps, setup.sampler->rows_per_step(),
        setup.sampler->steps_per_epoch(), 100.0 * setup.sampler->packing_efficiency());
    TrainingRun run(setup, setup.total_steps, data);
    mllog.open_file(c.output.output_dir);
    mllog.hyperparameters(setup);
    mllog.end("init_stop");
    mllog.start("run_start");
    RunSteps steps;
    steps.step = [&](int64_t step, AdamW& optimizer) {
        mllog.step_begin(setup, step);
        const StepMetrics m = sft_step(setup, optimizer, step);
        mllog.step_end(setup, step, step + 1 == setup.total_steps);
        return StepReport{m.loss, m.grad_norm, progress_text(m), metrics_record(m)};
    };
    steps.evaluate = [&](std::string_view when, int64_t steps_done) {
        return held_out_loss(setup, mllog, when, steps_done);
    };
    const RunSummary summary = run.run(steps);
    mllog.run_stop(!summary.stopped_by_signal);
    return summary;
}

}  // namespace ringlm
