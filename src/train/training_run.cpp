#include "train/training_run.h"

#include "parallel/topology.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"
#include "train/stop_signal.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace ringlm {

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void check_step_finite(double loss, double grad_norm, int64_t step, int rank) {
    if (!std::isfinite(loss))
        fail("step {}: the loss is {} (rank {}); lower learning_rate or check the data", step + 1, loss, rank);
    if (!std::isfinite(grad_norm))
        fail("step {}: the gradient norm is {} (rank {}), so the update was skipped; lower learning_rate or check the "
             "data",
             step + 1, grad_norm, rank);
}

TrainingRun::TrainingRun(TrainingSetup& setup, int64_t total_steps, const std::string& description)
    : setup_(setup),
      total_steps_(total_steps),
      optimizer_(make_adamw(setup.model, AdamWSettings{setup.config.training.adam_beta1, setup.config.training.adam_beta2,
                                                       setup.config.training.adam_epsilon,
                                                       setup.config.training.weight_decay,
                                                       setup.config.training.max_grad_norm})),
      rank_zero_(setup.topology.rank == 0),
      config_yaml_(to_yaml(setup.config)) {
    std::optional<int64_t> resumed_step;
    if (setup.resume_from) {
        first_step_ = load_checkpoint(*setup.resume_from, setup.model, &optimizer_).step;
        resumed_step = first_step_;
    }
    // Nothing is written before this point: every input has been checked.
    if (rank_zero_) {
        open_run_directory(setup.config, resumed_step);
        if (setup.resume_from) fmt::print("resuming from {} at step {}\n", *setup.resume_from, first_step_);
        fmt::print("{}\n{}\n", launch_summary(setup), description);
        std::fflush(stdout);
    }
    setup.comms.world->barrier();  // output_dir exists before any rank opens a file in it
    log_.emplace(setup.config.output.output_dir, rank_zero_);
    install_stop_signal_handlers();
}

std::string TrainingRun::save(int64_t steps_done) {
    return save_run_checkpoint(setup_.config.output.output_dir, setup_.model, optimizer_, steps_done, config_yaml_,
                               setup_.config.output.save_total_limit);
}

void TrainingRun::log_step(int64_t step, const StepReport& report) {
    const int64_t every = setup_.config.output.logging_steps;
    if ((step + 1) % every != 0 && step + 1 != total_steps_) return;
    const double elapsed = now_seconds() - run_start_seconds_;
    const double eta = elapsed / static_cast<double>(step + 1 - first_step_) * static_cast<double>(total_steps_ - step - 1);
    if (rank_zero_) {
        fmt::print("step {:>5}/{} | {} | {} elapsed, ETA {}\n", step + 1, total_steps_, report.progress,
                   format_duration(elapsed), format_duration(eta));
        std::fflush(stdout);
    }
    nlohmann::json record = report.fields;
    record["step"] = step + 1;
    record["elapsed_s"] = elapsed;
    log_->event(record.dump());
}

void TrainingRun::evaluate(const RunSteps& steps, std::string_view when, int64_t steps_done) {
    if (!steps.evaluate) return;
    nlohmann::json record = steps.evaluate(when, steps_done);
    if (record.empty()) return;
    record["eval_step"] = steps_done;
    log_->event(record.dump());
}

RunSummary TrainingRun::run(const RunSteps& steps) {
    RunSummary summary;
    summary.first_step = first_step_;
    if (first_step_ == 0) evaluate(steps, "before training", 0);
    run_start_seconds_ = now_seconds();
    const OutputSection& output = setup_.config.output;
    int64_t step = first_step_;
    for (; step < total_steps_; step++) {
        StepReport report = steps.step(step, optimizer_);
        check_step_finite(report.loss, report.grad_norm, step, setup_.topology.rank);
        log_step(step, report);
        summary.steps.push_back(std::move(report));
        const bool last = step + 1 == total_steps_;
        if (setup_.comms.world->any(stop_requested())) {
            if (rank_zero_) fmt::print("signal {} received: checkpointing at step {} and stopping\n", stop_signal(), step + 1);
            summary.last_checkpoint = save(step + 1);
            summary.stopped_by_signal = true;
            step++;
            break;
        }
        if (!last && output.save_steps > 0 && (step + 1) % output.save_steps == 0) summary.last_checkpoint = save(step + 1);
        if (!last && output.eval_steps > 0 && (step + 1) % output.eval_steps == 0)
            evaluate(steps, "during training", step + 1);
    }
    summary.last_step = step;
    if (!summary.stopped_by_signal) {
        // A resumed run that had nothing left to do keeps the checkpoint it resumed from.
        if (summary.last_step > summary.first_step || !setup_.resume_from) summary.last_checkpoint = save(summary.last_step);
        evaluate(steps, "after training", summary.last_step);
    }
    return summary;
}

}  // namespace ringlm
