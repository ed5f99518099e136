// ringlm bench [options]   — one point of a benchmark sweep (src/train/bench.h): synthetic
// tokens, warm-up steps, then measured training steps; prints a summary and, with --csv,
// appends one row (rank 0). bench/sweep.sh loops mpirun over points; bench/peers/compare.sh
// runs the same step against PyTorch.
#include "cli/commands.h"
#include "backend/cpu/cpu_threads.h"
#include "parallel/communicators.h"
#include "train/bench.h"
#include "train/metrics.h"
#include "util/error.h"

#include <fmt/core.h>

#include <filesystem>
#include <fstream>

namespace ringlm {

namespace {

struct BenchOptions {
    BenchPoint point;
    std::string ring_attn_func;  // "" = default
    std::string csv, label;
};

// Rows are appended under the header the file starts with: one written by an older ringlm (other
// columns) is refused before the benchmark runs, not mixed with new rows.
void check_csv_header(const std::string& path) {
    std::ifstream in(path);
    std::string first_line;
    if (!in || !std::getline(in, first_line) || first_line == bench_csv_header()) return;
    fail("ringlm bench: --csv {} starts with another header (written by an older ringlm?): the rows would not "
         "match its columns; give a new file",
         path);
}

void run_bench(BenchOptions& options) {
    BenchPoint& p = options.point;
    if (!options.csv.empty() && process_rank() == 0) check_csv_header(options.csv);
    p.model.tied_embeddings = true;
    if (!options.ring_attn_func.empty()) {
        p.ring_attn_func = parse_ring_attn_func(options.ring_attn_func);
        if (!p.ring_attn_func)
            fail_uniform("ringlm bench: --ring-attn-func '{}' is not one of {}", options.ring_attn_func,
                         ring_attn_func_list());
    }
    const BenchResult r = run_bench_point(p);
    if (process_rank() != 0) return;
    const double mfu = r.sgemm_flops_per_second > 0 ? r.model_flops_per_second / r.sgemm_flops_per_second : 0.0;
    fmt::print("bench {}: world {} (S={} D={} {}), {} thread(s)/rank, {} x {} tokens/step, {} parameters\n",
               options.label, r.world_size, r.sp_size, r.dp_size, r.variant, p.threads,
               r.tokens_per_step / p.sequence_len, p.sequence_len, r.n_parameters);
    fmt::print("  step median {:.4f} s (min {:.4f}, max {:.4f}, {} steps after {} warm-up) | {:.1f} tokens/s | "
               "loss {:.3f}\n",
               r.step_median, r.step_min, r.step_max, r.step_seconds.size(), p.warmup_steps, r.tokens_per_second, r.loss);
    fmt::print("  BLAS: {}\n", blas_description());
    fmt::print("  model {:.2f} GFLOP/s | f32 GEMM 2048x1376x512 {:.2f} GFLOP/s (sum over ranks) | MFU {:.3f}\n",
               r.model_flops_per_second / 1e9, r.sgemm_flops_per_second / 1e9, mfu);
    if (r.openblas_sgemm_flops_per_second > 0)
        fmt::print("  OpenBLAS sgemm 2048x1376x512 {:.2f} GFLOP/s (sum over ranks) | model / OpenBLAS sgemm {:.3f}\n",
                   r.openblas_sgemm_flops_per_second / 1e9,
                   r.model_flops_per_second / r.openblas_sgemm_flops_per_second);
    fmt::print("  peak memory per rank {} (allocator), max RSS {} | split: compute {:.4f} s, ring wait {:.4f} s, "
               "attention {:.4f} s, all-reduce {:.4f} s, AdamW {:.4f} s\n",
               format_bytes(static_cast<double>(r.peak_memory_bytes)), format_bytes(static_cast<double>(r.max_rss_bytes)),
               r.compute_seconds, r.ring_wait_seconds, r.attention_seconds, r.allreduce_seconds, r.optimizer_seconds);
    fmt::print("  per step: {:.0f} system allocations (caching allocator), {:.0f} minor page faults\n",
               r.system_allocations_per_step, r.page_faults_per_step);
    if (!options.csv.empty()) {
        const bool new_file = !std::filesystem::exists(options.csv);
        std::ofstream out(options.csv, std::ios::app);
        if (!out) fail("{}: cannot open for appending", options.csv);
        if (new_file) out << bench_csv_header() << '\n';
        out << bench_csv_row(p, r, options.label) << '\n';
    }
    std::fflush(stdout);
}

}  // namespace

void register_bench_command(CLI::App& app) {
    auto options = std::make_shared<BenchOptions>();
    BenchPoint& p = options->point;
    p.model = peer_model_config();  // the defaults
    CLI::App* command = app.add_subcommand("bench", "time training steps on synthetic tokens (one sweep point)");
    command->add_option("--dim", p.model.dim, "model width")->capture_default_str();
    command->add_option("--layers", p.model.n_layers, "decoder layers")->capture_default_str();
    command->add_option("--heads", p.model.n_heads, "attention heads")->capture_default_str();
    command->add_option("--kv-heads", p.model.n_kv_heads, "key/value heads")->capture_default_str();
    command->add_option("--ffn", p.model.ffn_dim, "feed-forward width")->capture_default_str();
    command->add_option("--vocab", p.model.vocab_size, "vocabulary size")->capture_default_str();
    command->add_option("--seq-len", p.sequence_len, "tokens per sequence")->capture_default_str();
    command->add_option("--micro-batch", p.micro_batch, "sequences per data-parallel group per step")
        ->capture_default_str();
    command->add_option("--sp", p.sequence_parallel_degree, "sequence_parallel_degree S (D = ranks / S)")
        ->capture_default_str();
    command->add_option("--ring-attn-func", options->ring_attn_func, "ring variant (default: batch_zigzag)");
    command->add_option("--threads", p.threads, "OpenMP / BLAS threads per rank")->capture_default_str();
    command->add_option("--warmup", p.warmup_steps, "warm-up steps (not timed)")->capture_default_str();
    command->add_option("--steps", p.measured_steps, "measured steps (median reported)")->check(CLI::PositiveNumber)
        ->capture_default_str();
    command->add_flag("--gradient-checkpointing", p.gradient_checkpointing, "recompute layers in backward");
    command->add_flag("--offload-checkpoints", p.offload_checkpoints,
                      "checkpointing with each layer's input in host memory (config gradient_checkpointing: offload)");
    command->add_flag("--tiled-mlp", p.tiled_mlp, "MLP in sequence tiles, recomputed in backward (config tiled_mlp)");
    command->add_flag("--bf16", p.bf16, "matmuls in bf16 with f32 master weights (config bf16: true)");
    command->add_flag("--bf16-activations", p.bf16_activations,
                      "the tensors between matmuls in bf16 too (config bf16_activations: true; implies --bf16)");
    command->add_option("--sgemm-repeats", p.sgemm_repeats, "f32 GEMM calls timed before each measured step, for the peak (0: none)")->capture_default_str();
    command->add_option("--work-dir", p.work_dir, "where the synthetic token file is written")->capture_default_str();
    command->add_option("--csv", options->csv,
                        "append one CSV row here (header when the file is new; a file with another header is "
                        "refused)");
    command->add_option("--label", options->label, "first CSV column");
    command->callback([options] { run_bench(*options); });
}

}  // namespace ringlm
