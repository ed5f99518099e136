// One run loop for SFT (train/trainer.cpp) and GRPO (rl/grpo_trainer.cpp). TrainingRun owns
// what every run does the same way, each rule written once:
//   - the optimizer (AdamW from the config) and resuming it and the weights from a checkpoint;
//   - the run directory (train/run_directory.h): refused when it holds another run, created,
//     config.yaml written, metrics.jsonl trimmed to the resumed step;
//   - per step: the loss checked finite, rank 0's progress line and metrics.jsonl record every
//     logging_steps, the stop vote (SIGTERM/SIGUSR1 on any rank: every rank checkpoints at this
//     step boundary and stops), checkpoints every save_steps and at the end;
//   - evaluation before, every eval_steps and after, when the step function supplies one.
// The caller supplies the step: whatever it computes, it returns the loss and named fields.
#pragma once

#include "train/metrics.h"
#include "train/optimizer.h"
#include "train/training_setup.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringlm {

// What one optimizer step reports. `progress` is rank 0's line after "step N/M | "; `fields`
// become its metrics.jsonl record (the run adds "step"). Every rank returns the same loss.
struct StepReport {
    double loss = 0;
    double grad_norm = 0;  // of the step's (first) update; not finite: the update was skipped
    std::string progress;
    nlohmann::json fields = nlohmann::json::object();
};

struct RunSteps {
    // Step `step` (0-based) of the run: forward, backward and the optimizer update(s).
    std::function<StepReport(int64_t step, AdamW& optimizer)> step;
    // Held-out evaluation, `when` = "before training" | "during training" | "after training";
    // returns the fields of its metrics.jsonl record ("eval_step" is added). Empty: none.
    std::function<nlohmann::json(std::string_view when, int64_t steps_done)> evaluate;
};

struct RunSummary {
    int64_t first_step = 0, last_step = 0;  // steps run: [first_step, last_step)
    std::vector<StepReport> steps;          // per step run
    bool stopped_by_signal = false;
    std::string last_checkpoint;
};

// Fails, naming the step and rank, when a loss is NaN or infinite (nothing is saved after it),
// or else when the gradient norm is: the optimizer skipped that update, and a run that went on
// would skip every later one just as silently.
void check_step_finite(double loss, double grad_norm, int64_t step, int rank);

class TrainingRun {
public:
    // Loads setup.resume_from into the model and a fresh optimizer, opens the run directory and
    // prints the launch summary and `description` (rank 0). Called by every rank.
    TrainingRun(TrainingSetup& setup, int64_t total_steps, const std::string& description);

    int64_t first_step() const { return first_step_; }
    AdamW& optimizer() { return optimizer_; }
    RunSummary run(const RunSteps& steps);

private:
    void log_step(int64_t step, const StepReport& report);
    void evaluate(const RunSteps& steps, std::string_view when, int64_t steps_done);
    std::string save(int64_t steps_done);

    TrainingSetup& setup_;
    int64_t total_steps_;
    AdamW optimizer_;
    int64_t first_step_ = 0;
    bool rank_zero_;
    std::string config_yaml_;
    std::optional<MetricsLog> log_;  // opened once the run directory exists
    double run_start_seconds_ = 0;
};

}  // namespace ringlm
