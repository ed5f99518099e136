#include "train/metrics.h"

#include "util/error.h"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

namespace ringlm {

MetricsLog::MetricsLog(const std::string& output_dir, bool is_rank_zero) : active_(is_rank_zero) {
    if (!active_) return;
    const std::string path = output_dir + "/metrics.jsonl";
    jsonl_.open(path, std::ios::app);
    if (!jsonl_) fail("{}: cannot open for appending", path);
}

std::string progress_text(const StepMetrics& m) {
    const std::string mfu = m.mfu > 0 ? fmt::format(" MFU {:.1f}%", 100 * m.mfu) : "";
    return fmt::format("loss {:.4f} | lr {:.2e} | grad norm {:.3f} | {:.0f} tok/s {}{} | {} | mem {}", m.loss,
                       m.learning_rate, m.grad_norm, m.tokens_per_second, format_flops(m.model_flops_per_second), mfu,
                       m.layout, format_bytes(static_cast<double>(m.peak_memory_bytes)));
}

nlohmann::json metrics_record(const StepMetrics& m) {
    nlohmann::json record{{"loss", m.loss},
                          {"lr", m.learning_rate},
                          {"grad_norm", m.grad_norm},
                          {"tokens", m.tokens},
                          {"tokens_per_s", m.tokens_per_second},
                          {"model_flops_per_s", m.model_flops_per_second},
                          {"step_s", m.step_seconds},
                          {"cpu_s", m.cpu_seconds},
                          {"compute_s", m.compute_seconds},
                          {"ring_wait_s", m.ring_wait_seconds},
                          {"attention_s", m.ring_compute_seconds},
                          {"allreduce_s", m.allreduce_seconds},
                          {"peak_mem_bytes", m.peak_memory_bytes},
                          {"activation_peak_bytes", m.activation_peak_bytes},
                          {"attention_imbalance", m.attention_imbalance}};
    if (m.mfu > 0) record["mfu"] = m.mfu;
    if (m.sp_bytes_sent > 0) {
        record["sp_bytes_sent"] = m.sp_bytes_sent;
        record["sp_bytes_sent_per_layer"] = m.sp_bytes_sent_per_layer;
    }
    return record;
}

void MetricsLog::event(const std::string& json_object) {
    if (!active_) return;
    jsonl_ << json_object << '\n';
    jsonl_.flush();
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    if (seconds < 60) return fmt::format("{:.1f}s", seconds);
    const int64_t s = static_cast<int64_t>(seconds);
    if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
    return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

namespace {

// "{:.1f} {unit}" in the largest of `units` (each `base` times the one before) that keeps the
// value at least 1.
template <size_t n>
std::string format_in_units(double value, double base, const char* const (&units)[n]) {
    size_t unit = 0;
    while (value >= base && unit + 1 < n) {
        value /= base;
        unit++;
    }
    return fmt::format("{:.1f} {}", value, units[unit]);
}

}  // namespace

std::string format_flops(double flops_per_second) {
    const char* const units[] = {"FLOP/s", "kFLOP/s", "MFLOP/s", "GFLOP/s", "TFLOP/s", "PFLOP/s"};
    return format_in_units(flops_per_second, 1000, units);
}

std::string format_bytes(double bytes) {
    const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    return format_in_units(bytes, 1024, units);
}

}  // namespace ringlm
