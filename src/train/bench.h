// `ringlm bench`: one point of a benchmark sweep. The point runs the trainer's own step
// (accumulate_gradients + adamw_step, through make_training_setup) on a synthetic token file
// of random documents exactly sequence_len long, so what is timed is what training runs:
// data read, forward, backward, ring attention, gradient all-reduce, AdamW.
//
// Model FLOPs (what MFU counts): src/model/model_flops.h.
// The peak for MFU is measured, not quoted: the backend's f32 GEMM (ringlm's packed GEMM or
// OpenBLAS's sgemm, whichever the model's GEMMs run: backend/cpu/gemm.cpp) at M=2048 N=1376
// K=512 (the FFN shape of the peer model) right before every measured step, on every rank at
// the same moment; the median over steps, summed over ranks. Fields and CSV columns keep the
// name sgemm for it. Where ringlm's packed GEMM runs, OpenBLAS's sgemm is measured too, at the
// same moments, as a second yardstick (the machine's BLAS, what a PyTorch build calls).
#pragma once

#include "config/config.h"
#include "model/model_flops.h"
#include "tensor/tensor.h"
#include "train/training_setup.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringlm {

struct BenchPoint {
    ModelConfig model;
    int64_t sequence_len = 1024;
    int64_t micro_batch = 1;                // rows per data-parallel group per step
    int64_t sequence_parallel_degree = 1;   // S; D = world / S
    std::optional<RingAttnFunc> ring_attn_func;  // unset: the default for unpacked rows
    int64_t threads = 1;                    // per rank
    int64_t warmup_steps = 2, measured_steps = 5;
    bool gradient_checkpointing = false;
    bool offload_checkpoints = false;       // config gradient_checkpointing: offload (checkpointing too)
    bool bf16_activations = false;          // config bf16_activations (bf16 too)
    bool tiled_mlp = false;                 // config `tiled_mlp` (shards: ceil(rows / dim))
    bool bf16 = false;                      // config `bf16`: matmuls in bf16 (f32 master weights)
    int64_t sgemm_repeats = 3;              // sgemm calls timed before each measured step (0: none)
    std::string work_dir = "bench_out";     // the synthetic token file goes here
};

struct BenchResult {
    int world_size = 1, sp_size = 1, dp_size = 1;
    std::string variant;                    // "local" when S = 1
    int64_t tokens_per_step = 0;            // global
    int64_t n_parameters = 0, n_matmul_parameters = 0;
    std::vector<double> step_seconds;       // rank 0, every measured step
    double step_median = 0, step_min = 0, step_max = 0;
    double tokens_per_second = 0;           // global, from the median step
    double model_flops_per_step = 0;        // model_flops.h
    double model_flops_per_second = 0;      // global
    double sgemm_flops_per_second = 0;      // summed over ranks, measured concurrently
    double sgemm_flops_per_second_rank0 = 0;
    // OpenBLAS's sgemm, measured right after the GEMM above, summed over ranks: 0 where it is
    // the GEMM above already (or the build has no BLAS)
    double openblas_sgemm_flops_per_second = 0;
    // medians over the measured steps, rank 0 (seconds)
    double compute_seconds = 0, ring_wait_seconds = 0, attention_seconds = 0, allreduce_seconds = 0,
           optimizer_seconds = 0;
    int64_t peak_memory_bytes = 0;          // allocator peak in a step, the largest over ranks
    int64_t max_rss_bytes = 0;              // process high-water mark (getrusage), largest over ranks
    double loss = 0;                        // of the last step (random tokens: about ln(vocab))
    // rank 0, per measured step: calls to the system allocator by the caching allocator (0 once
    // warm), and minor page faults (fresh pages the kernel zeroes: malloc'd scratch outside the
    // caching allocator, returned to the system and taken again each step)
    double system_allocations_per_step = 0, page_faults_per_step = 0;
};

// The model of the PyTorch peer comparison (issue 8): Llama dim 512, 8 layers, 8 heads, 2 KV
// heads (head_dim 64), ffn 1376, vocabulary 4096, tied embeddings; 24.26 M parameters.
ModelConfig peer_model_config();

// GEMM FLOP/s (2 M N K per call) at M x N x K: C = A B^T on fixed operands, median of
// `repeats` calls after `warmups`; by the backend's f32 GEMM (what the model runs), or by
// OpenBLAS's sgemm (0 in a build without BLAS).
struct SgemmProbe {
    SgemmProbe(int64_t m, int64_t n, int64_t k);
    double flops() const;  // per call
    double measure(int64_t repeats, int64_t warmups);
    double measure_openblas(int64_t repeats, int64_t warmups);  // a build with BLAS only
    bool runs_packed_gemm() const;  // the backend's GEMM at this shape is ringlm's packed one
    Tensor a, b, c;
};

// The trainer's setup for the point: the synthetic token file (rows for warmup_steps +
// measured_steps) and make_training_setup on it, so a caller can run accumulate_gradients and
// adamw_step for steps 0 .. warmup_steps + measured_steps - 1. Collective over MPI_COMM_WORLD.
TrainingSetup make_bench_setup(const BenchPoint& point);

// Runs on every rank of MPI_COMM_WORLD; rank 0's result has every field filled.
BenchResult run_bench_point(const BenchPoint& point);

// The CSV row (and its header) `ringlm bench --csv` appends.
std::string bench_csv_header();
std::string bench_csv_row(const BenchPoint& point, const BenchResult& result, const std::string& label);

}  // namespace ringlm
