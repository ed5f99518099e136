// What rank 0 reports each step: one progress line on stdout and one JSON object per line in
// output_dir/metrics.jsonl (appended, so a resumed run continues the same file; the run loop,
// train/training_run.h, adds the step number, elapsed time and ETA).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <string>

namespace ringlm {

// An SFT step's measurements (train/trainer.cpp).
struct StepMetrics {
    double loss = 0, learning_rate = 0, grad_norm = 0;
    int64_t tokens = 0;  // loss tokens of the global batch
    double step_seconds = 0, tokens_per_second = 0;
    double model_flops_per_second = 0;  // global: model_flops_per_step (model_flops.h) / step time
    double mfu = 0;                     // model_flops_per_second / (peak_tflops x ranks); 0 = no peak given
    double cpu_seconds = 0;  // CPU time of the step on the busiest rank (all its threads)
    // per-step time split, this rank (seconds)
    double compute_seconds = 0;       // forward + backward, ring waits excluded
    double ring_wait_seconds = 0;     // blocked on the SP ring / all-gather (communication not hidden)
    double ring_compute_seconds = 0;  // inside ring attention's block kernels
    double allreduce_seconds = 0;     // gradient all-reduce
    // Bytes this rank sent through the SP communicator in the step (ring shifts, all-gathers,
    // reduce-scatters, all-to-alls: Communicator::take_bytes_sent), and that per layer per micro
    // batch (forward + backward of one attention). 0 at S = 1.
    int64_t sp_bytes_sent = 0, sp_bytes_sent_per_layer = 0;
    int64_t peak_memory_bytes = 0;      // the step's peak bytes in use, the largest over all ranks
    int64_t activation_peak_bytes = 0;  // that peak minus the bytes in use at the step's start
                                        // (weights, gradients, optimizer state), largest over ranks
    // Causal attention work of the busiest SP rank over the mean of its group (data/attention_work.h),
    // counted exactly from the step's masks; the worst group's. 1 = balanced (and at S = 1).
    double attention_imbalance = 1;
    std::string layout;  // "S=2 D=1 batch_zigzag", "S=4 D=1 varlen_llama3/document"
};

// The progress line's middle ("loss 2.1234 | lr ... | mem 1.2 GiB") and metrics.jsonl's fields.
std::string progress_text(const StepMetrics& metrics);
nlohmann::json metrics_record(const StepMetrics& metrics);

class MetricsLog {
public:
    // Rank 0 writes; other ranks' calls do nothing.
    MetricsLog(const std::string& output_dir, bool is_rank_zero);
    void event(const std::string& json_object);  // one record (a step, an evaluation)

private:
    bool active_;
    std::ofstream jsonl_;
};

std::string format_duration(double seconds);  // "1h02m", "3m05s", "12.3s"
std::string format_flops(double flops_per_second);  // "12.3 GFLOP/s" (powers of 1000)
std::string format_bytes(double bytes);       // "1.5 GiB"

}  // namespace ringlm
