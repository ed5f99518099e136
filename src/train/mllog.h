// MLPerf-style log (`log_format: mllog`): rank 0 prints one line per event,
//   :::MLLOG {"namespace": "", "time_ms": 1700000000000, "event_type": "POINT_IN_TIME",
//             "key": "seed", "value": 42, "metadata": {"file": "src/train/trainer.cpp", "lineno": 120}}
// on stdout (where MLPerf's log checkers look) and into output_dir/mllog.log, alongside
// metrics.jsonl. event_type is INTERVAL_START (init_start, run_start, block_start,
// epoch_start), INTERVAL_END (the *_stop keys) or POINT_IN_TIME (everything else).
//
// What the keys mean here: a block is the steps between two evaluations (eval_steps; the whole
// run when 0), numbered by step (metadata first_step_num, step_count); an epoch is
// steps_per_epoch optimizer steps of the sampler (metadata epoch_num, from 1); eval_accuracy is
// the held-out mean cross-entropy loss (nats per token; lower is better), as MLPerf's
// llama2_70b_lora benchmark reports it. run_stop carries metadata status "success" or
// "aborted" (stopped by a signal, or left by an error: the destructor says so).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <source_location>
#include <string>
#include <vector>

namespace ringlm {

struct TrainingSetup;

class MlLog {
public:
    explicit MlLog(bool active);
    ~MlLog();  // run_stop "aborted" if the run started and never stopped
    MlLog(const MlLog&) = delete;
    MlLog& operator=(const MlLog&) = delete;

    bool active() const { return active_; }
    // Lines before this are kept and written when the file opens (output_dir may not exist yet).
    void open_file(const std::string& output_dir);

    void point(const std::string& key, const nlohmann::json& value, nlohmann::json metadata = nlohmann::json::object(),
               std::source_location where = std::source_location::current());
    void start(const std::string& key, const nlohmann::json& value = nullptr,
               nlohmann::json metadata = nlohmann::json::object(),
               std::source_location where = std::source_location::current());
    void end(const std::string& key, const nlohmann::json& value = nullptr,
             nlohmann::json metadata = nlohmann::json::object(),
             std::source_location where = std::source_location::current());

    // The submission_* keys, seed, batch, sequence length and the optimizer's settings.
    void hyperparameters(const TrainingSetup& setup);
    // Around optimizer step `step` (0-based) of `total_steps`: block and epoch boundaries.
    void step_begin(const TrainingSetup& setup, int64_t step);
    void step_end(const TrainingSetup& setup, int64_t step, bool last);
    void eval_accuracy(double eval_loss, int64_t step);
    void run_stop(bool success);

private:
    void emit(const char* event_type, const std::string& key, const nlohmann::json& value, nlohmann::json metadata,
              const std::source_location& where);
    bool active_;
    bool running_ = false;
    bool epoch_open_ = false;
    int64_t block_first_step_ = -1;
    std::vector<std::string> pending_;
    std::ofstream file_;
};

}  // namespace ringlm
