// What the GPU check's files share: the rows of the final table, the comparison helper, and
// device <-> host helpers (gpu_check_rows.cpp). gpu_check.cpp: main, memory, GEMM, elementwise;
// gpu_check_layers.cpp: the layer kernels; gpu_check_attention.cpp: attention;
// gpu_check_cudnn.cpp: cuDNN attention; gpu_check_nccl.cpp: the NCCL transport (1 rank);
// gpu_check_training.cpp: the model (training, generation, step speed); gpu_bench.cpp: the
// kernel timings.
#pragma once

#include "backend/backend.h"
#include "model/llama.h"

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace ringlm {
class CudaBackend;
}

namespace ringlm::gpu_check {

constexpr double f32_tolerance = 1e-5;
constexpr double bf16_tolerance = 1e-2;

struct Row {
    std::string kernel;
    std::string result;  // PASS, FAIL, or a measurement
    std::string detail;  // the error, or the time
    bool failed = false;
};

Backend& cpu();
Backend& gpu();
CudaBackend& cuda();  // gpu() as the CUDA backend: its attention kernel choice
Tensor to_device(const Tensor& host);
Tensor to_host(const Tensor& device);
Tensor poisoned(Shape shape, Device device, DType dtype = DType::f32);  // filled with NaN
Tensor host_as(const Tensor& host, DType dtype);                        // dtype conversion on the host
// after - before, on the host (`after` on either side): what a backward call added to its
// gradient output, so a comparison is not diluted by the values it started from.
Tensor added(const Tensor& after, const Tensor& before_host);

struct Checker {
    std::vector<Row>& rows;
    // The sticky CUDA error that ended the checks (a fault inside a kernel: every later CUDA
    // call returns it), with the check it surfaced after; empty while the context works.
    std::string context_lost;

    // Runs `body`, which calls compare() for each output; an exception (a CUDA error, a cuDNN
    // plan failure, or a CPU kernel not written yet) fails the check with its message, and the
    // next check runs. Then the device is synchronised: a sticky error adds one FAIL row saying
    // where the context was lost, and every later check() does nothing (main marks the parts
    // left NOT RUN) instead of each failing with the same error.
    void check(const std::string& kernel, const std::function<void()>& body);
    // Normwise relative error over every element; NaN in `actual` never passes (not even
    // where `expected` is NaN too: both kernels skipping a poisoned element is a failure).
    void compare(const std::string& kernel, const Tensor& actual, const Tensor& expected, double tolerance);
    void compare_value(const std::string& kernel, double actual, double expected, double tolerance);
    void add(const std::string& kernel, bool passed, const std::string& detail);
    // A row that is no comparison: a measurement ("741.0 TFLOP/s"), SKIPPED or NOT RUN.
    void note(const std::string& kernel, const std::string& result, const std::string& detail, bool failed = false);
};

// Prints the rows as one table headed `title`, then PASSED or FAILED with the seed; returns the
// number of failed rows.
int print_table(const std::vector<Row>& rows, const std::string& title, uint64_t seed);
// Weights for a speed run: a 1M-value random block (a fixed seed) tiled over the parameters,
// norms 1 (drawing 1.2G normal values on the host would take longer than the measurement).
void fill_parameters_quickly(Llama& model);
// One micro batch (host tensors) through the model on its device, as the trainer runs it:
// gradients zeroed, forward, backward. Returns the loss sum (a scalar on the device).
Tensor forward_backward(Llama& model, const TokenBatch& host_batch, const ForwardOptions& options);
// The shape the issue measures: Llama-3.2-1B (dim 2048, 16 layers, 32/8 heads, ffn 8192,
// vocab 128256, tied embeddings, RoPE theta 500000).
ModelConfig llama32_1b_config(int64_t max_position);
// The best GEMM rates run_benchmarks measured (0 where a benchmark failed), the peaks MFU is
// quoted against.
struct BenchPeaks {
    double bf16_tflops = 0, f32_tflops = 0;
};

void check_layers(Checker& checker, std::mt19937_64& rng);
void check_bf16_activations(Checker& checker, std::mt19937_64& rng);
void check_attention(Checker& checker, std::mt19937_64& rng);
// gpu_check_cudnn.cpp: cuDNN's fused attention against the tiled kernel, and the dispatch.
void check_cudnn_attention(Checker& checker, std::mt19937_64& rng);
// gpu_check_nccl.cpp: the NCCL transport on a 1-rank communicator (a SKIPPED row without NCCL).
void check_nccl(Checker& checker, std::mt19937_64& rng);
// gpu_check_training.cpp: 20 training steps on both backends, stories260K generation on both.
void check_training(Checker& checker);
// gpu_bench.cpp: fixed run counts (3 warm-up, 11 timed), so the time is bounded.
BenchPeaks run_benchmarks(Checker& checker, std::mt19937_64& rng);
// gpu_check_training.cpp: a training step of a ~0.5B-parameter model, its MFU against `peaks`.
void bench_training_step(Checker& checker, const BenchPeaks& peaks);

}  // namespace ringlm::gpu_check
