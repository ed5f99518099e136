#include "train/mllog.h"

#include "backend/cpu/cpu_threads.h"
#include "train/training_setup.h"
#include "util/error.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

namespace ringlm {

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "AMD EPYC ... x 2 ranks, cpu": what the run ran on, for submission_platform.
std::string platform(const TrainingSetup& setup) {
    std::string cpu = "unknown cpu";
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            cpu = line.substr(line.find(':') + 2);
            break;
        }
    }
    return fmt::format("{} node(s), {} rank(s) x {} thread(s), {}, backend {}", setup.topology.nodes,
                       setup.topology.world_size, cpu_threads(), cpu, name(setup.config.parallel.backend));
}

// The path from the repository root (src/...), not the build machine's absolute path.
std::string source_file(const std::source_location& where) {
    const std::string file = where.file_name();
    const size_t src = file.rfind("/src/");
    return src == std::string::npos ? file : file.substr(src + 1);
}

}  // namespace

MlLog::MlLog(bool active) : active_(active) {}

MlLog::~MlLog() {
    if (running_) run_stop(false);
}

void MlLog::open_file(const std::string& output_dir) {
    if (!active_) return;
    const std::string path = output_dir + "/mllog.log";
    file_.open(path, std::ios::app);
    if (!file_) fail("{}: cannot open for appending", path);
    for (const std::string& line : pending_) file_ << line << '\n';
    pending_.clear();
    file_.flush();
}

void MlLog::emit(const char* event_type, const std::string& key, const nlohmann::json& value, nlohmann::json metadata,
                 const std::source_location& where) {
    if (!active_) return;
    metadata["file"] = source_file(where);
    metadata["lineno"] = where.line();
    const nlohmann::ordered_json record{{"namespace", ""}, {"time_ms", now_ms()}, {"event_type", event_type},
                                {"key", key},      {"value", value},      {"metadata", metadata}};
    const std::string line = ":::MLLOG " + record.dump();
    fmt::print("{}\n", line);
    std::fflush(stdout);
    if (file_.is_open()) {
        file_ << line << '\n';
        file_.flush();
    } else {
        pending_.push_back(line);
    }
}

void MlLog::point(const std::string& key, const nlohmann::json& value, nlohmann::json metadata,
                  std::source_location where) {
    emit("POINT_IN_TIME", key, value, std::move(metadata), where);
}

void MlLog::start(const std::string& key, const nlohmann::json& value, nlohmann::json metadata,
                  std::source_location where) {
    if (key == "run_start") running_ = true;
    emit("INTERVAL_START", key, value, std::move(metadata), where);
}

void MlLog::end(const std::string& key, const nlohmann::json& value, nlohmann::json metadata,
                std::source_location where) {
    emit("INTERVAL_END", key, value, std::move(metadata), where);
}

void MlLog::hyperparameters(const TrainingSetup& setup) {
    const Config& c = setup.config;
    point("submission_benchmark", "llama_sft");
    point("submission_org", "ringlm");
    point("submission_division", "open");
    point("submission_status", "research");
    point("submission_platform", platform(setup));
    point("seed", c.training.seed);
    const int64_t global_batch =
        setup.topology.dp_size * c.training.micro_batch_size * c.training.gradient_accumulation_steps;
    point("global_batch_size", global_batch);
    point("gradient_accumulation_steps", c.training.gradient_accumulation_steps);
    point("max_sequence_length", c.data.sequence_len);
    point("train_samples", setup.total_steps * global_batch);
    point("eval_samples", static_cast<int64_t>(setup.split.validation.size()));
    point("opt_name", "adamw");
    point("opt_base_learning_rate", c.training.learning_rate);
    point("opt_adamw_beta_1", c.training.adam_beta1);
    point("opt_adamw_beta_2", c.training.adam_beta2);
    point("opt_adamw_epsilon", c.training.adam_epsilon);
    point("opt_adamw_weight_decay", c.training.weight_decay);
    point("opt_gradient_clip_norm", c.training.max_grad_norm);
    point("opt_learning_rate_warmup_steps", c.training.warmup_steps);
    point("opt_learning_rate_training_steps", setup.total_steps);
    point("opt_learning_rate_schedule", std::string(name(c.training.lr_scheduler)));
}

void MlLog::step_begin(const TrainingSetup& setup, int64_t step) {
    if (!active_) return;
    if (block_first_step_ < 0) {
        const int64_t eval_steps = setup.config.output.eval_steps;
        // this block runs to the next multiple of eval_steps, or to the end
        const int64_t block_end =
            eval_steps > 0 ? std::min(setup.total_steps, (step / eval_steps + 1) * eval_steps) : setup.total_steps;
        block_first_step_ = step + 1;
        start("block_start", nullptr, {{"first_step_num", step + 1}, {"step_count", block_end - step}});
    }
    const int64_t per_epoch = std::max<int64_t>(1, setup.sampler->steps_per_epoch());
    if (!epoch_open_) start("epoch_start", nullptr, {{"epoch_num", step / per_epoch + 1}});
    epoch_open_ = true;
}

void MlLog::step_end(const TrainingSetup& setup, int64_t step, bool last) {
    if (!active_) return;
    const int64_t per_epoch = std::max<int64_t>(1, setup.sampler->steps_per_epoch());
    if ((step + 1) % per_epoch == 0 || last) {
        end("epoch_stop", nullptr, {{"epoch_num", step / per_epoch + 1}});
        epoch_open_ = false;
    }
    const int64_t eval_steps = setup.config.output.eval_steps;
    if (last || (eval_steps > 0 && (step + 1) % eval_steps == 0)) {
        end("block_stop", nullptr, {{"first_step_num", block_first_step_}, {"step_count", step + 2 - block_first_step_}});
        block_first_step_ = -1;
    }
}

void MlLog::eval_accuracy(double eval_loss, int64_t step) {
    point("eval_accuracy", eval_loss, {{"step_num", step}, {"metric", "eval_loss"}});
}

void MlLog::run_stop(bool success) {
    if (!running_) return;
    running_ = false;
    end("run_stop", nullptr, {{"status", success ? "success" : "aborted"}});
}

}  // namespace ringlm
