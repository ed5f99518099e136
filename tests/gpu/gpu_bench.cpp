// GPU benchmarks: cuBLASLt GEMM and the attention block at model sizes, timed with CUDA events
// on the compute stream (warm-up first, then the median of the timed runs). Inputs are random
// (never zeros: a zero operand runs faster than real data).
#include "cuda_backend.h"
#include "cuda_check.h"
#include "cudnn_attention.h"
#include "gpu_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace ringlm::gpu_check {

namespace {

constexpr int warmup_runs = 3;
constexpr int timed_runs = 11;

// Uniform in [-1, 1) on the device (made on the host, in f32, then copied once).
Tensor random_device(Shape shape, std::mt19937_64& rng, DType dtype = DType::f32) {
    Tensor host = empty(shape, DType::f32, Device::cpu);
    float* data = host.data<float>();
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int64_t i = 0; i < host.numel(); i++) data[i] = uniform(rng);
    Tensor device = empty(shape, dtype, Device::cuda);
    gpu().copy(device, host);
    return device;
}

double median_milliseconds(const std::function<void()>& run) {
    cudaStream_t stream = cuda_compute_stream();
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    for (int i = 0; i < warmup_runs; i++) run();
    std::vector<float> times;
    for (int i = 0; i < timed_runs; i++) {
        CUDA_CHECK(cudaEventRecord(start, stream));
        run();
        CUDA_CHECK(cudaEventRecord(stop, stream));
        CUDA_CHECK(cudaEventSynchronize(stop));
        float milliseconds = 0;
        CUDA_CHECK(cudaEventElapsedTime(&milliseconds, start, stop));
        times.push_back(milliseconds);
    }
    CUDA_CHECK(cudaEventDestroy(start));
    CUDA_CHECK(cudaEventDestroy(stop));
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// Adds the row; returns the rate in TFLOP/s.
double report(Checker& checker, const std::string& kernel, double flops, double milliseconds) {
    char result[32], detail[64];
    std::snprintf(result, sizeof result, "%.1f TFLOP/s", flops / (milliseconds * 1e-3) / 1e12);
    std::snprintf(detail, sizeof detail, "median %.3f ms of %d", milliseconds, timed_runs);
    checker.note(kernel, result, detail);
    return flops / (milliseconds * 1e-3) / 1e12;
}

// C [M, N] = A [M, K] @ B^T, B [N, K] (the nn.Linear layout); FLOPs = 2 M N K. Returns the
// rate in TFLOP/s (0 if it failed).
double bench_gemm(Checker& checker, int64_t M, int64_t N, int64_t K, DType dtype, std::mt19937_64& rng) {
    double tflops = 0;
    const std::string kernel = std::string("gemm ") + dtype_name(dtype) + " " + std::to_string(M) + "x" +
                               std::to_string(N) + "x" + std::to_string(K) + " (A B^T, f32 C)";
    checker.check(kernel, [&] {
        const Tensor a = random_device({M, K}, rng, dtype), b = random_device({N, K}, rng, dtype);
        Tensor c = empty({M, N}, DType::f32, Device::cuda);
        const double milliseconds = median_milliseconds([&] { gpu().gemm(c, a, b, false, true, 1.0, 0.0); });
        tflops = report(checker, kernel, 2.0 * M * N * K, milliseconds);
    });
    return tflops;
}

// Causal self-attention over T tokens, one document. FLOPs: 4 T^2 H D / 2 forward (causal
// halves the 4 T^2 H D of QK^T and PV), 2.5 times that backward. `kernel` picks the tiled f32
// kernel ("f32" rows), the own bf16 tensor-core kernel ("tensor" rows) or cuDNN's fused
// attention ("cudnn" rows); each is the Backend call as training makes it: the mask with the
// host facts the model passes (so cuDNN's dispatch reads nothing back), the conversions, and
// for cuDNN the LSE transposes. `input`: q, k, v (and out) in f32 (bf16 matmuls alone) or in
// bf16 (bf16 activations); lse and every gradient f32, as in training. Returns the forward plus
// backward milliseconds (0 if either failed).
double bench_attention(Checker& checker, int64_t T, int64_t H, int64_t Hkv, int64_t D, AttentionKernel kernel,
                       DType input, std::mt19937_64& rng) {
    const std::string shape = "T " + std::to_string(T) + ", H " + std::to_string(H) + "/" + std::to_string(Hkv) +
                              ", D " + std::to_string(D) + ", causal, " + dtype_name(input) + " in";
    const std::string kind = kernel == AttentionKernel::tiled    ? "f32 "
                             : kernel == AttentionKernel::tensor ? "tensor "
                                                                 : "cudnn ";
    const double forward_flops = 4.0 * double(T) * double(T) * double(H) * double(D) / 2.0;
    const Tensor q = random_device({T, H, D}, rng, input), k = random_device({T, Hkv, D}, rng, input);
    const Tensor v = random_device({T, Hkv, D}, rng, input);
    std::vector<int32_t> index(T), segment(T, 0);
    for (int64_t t = 0; t < T; t++) index[t] = static_cast<int32_t>(t);
    const Tensor index_device = to_device(from_vector(index, {T})), segment_device = to_device(from_vector(segment, {T}));
    AttentionMask mask{index_device, segment_device, index_device, segment_device, true, {}, {}};
    mask.known_q = mask.known_k = KnownTokens{{0, static_cast<int32_t>(T - 1), 0, 0}, true};
    const double scale = 1.0 / std::sqrt(double(D));
    Tensor out = empty({T, H, D}, input, Device::cuda), lse = empty({T, H}, DType::f32, Device::cuda);
    cuda().set_attention_kernel(kernel);
    double forward_ms = 0, backward_ms = 0;
    checker.check("attention fwd " + kind + shape, [&] {
        forward_ms = median_milliseconds([&] { gpu().attention_block_forward(out, lse, q, k, v, mask, scale); });
        report(checker, "attention fwd " + kind + shape, forward_flops, forward_ms);
    });
    checker.check("attention bwd " + kind + shape, [&] {
        gpu().attention_block_forward(out, lse, q, k, v, mask, scale);
        const Tensor dout = random_device({T, H, D}, rng);  // gradients stay f32 (bf16 activations too)
        Tensor dq = zeros({T, H, D}, DType::f32, Device::cuda);
        Tensor dk = zeros({T, Hkv, D}, DType::f32, Device::cuda), dv = zeros({T, Hkv, D}, DType::f32, Device::cuda);
        backward_ms = median_milliseconds(
            [&] { gpu().attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale); });
        report(checker, "attention bwd " + kind + shape, 2.5 * forward_flops, backward_ms);
    });
    cuda().set_attention_kernel(AttentionKernel::tiled);
    return forward_ms > 0 && backward_ms > 0 ? forward_ms + backward_ms : 0;
}

}  // namespace

BenchPeaks run_benchmarks(Checker& checker, std::mt19937_64& rng) {
    BenchPeaks peaks;
    peaks.f32_tflops = bench_gemm(checker, 4096, 4096, 4096, DType::f32, rng);
    peaks.bf16_tflops = bench_gemm(checker, 4096, 4096, 4096, DType::bf16, rng);
    peaks.f32_tflops = std::max(peaks.f32_tflops, bench_gemm(checker, 8192, 2048, 2048, DType::f32, rng));
    peaks.bf16_tflops = std::max(peaks.bf16_tflops, bench_gemm(checker, 8192, 2048, 2048, DType::bf16, rng));
    // The shape (T 8K, causal, head dim 128, GQA 32/8) on each kernel, with f32 and bf16
    // inputs; then which was fastest forward plus backward at each, for choosing RINGLM_ATTENTION's
    // default among the kernels whose correctness rows above passed.
    std::vector<AttentionKernel> kernels = {AttentionKernel::tiled, AttentionKernel::tensor};
    if (CudnnAttention::built_with_cudnn()) {
        kernels.push_back(AttentionKernel::cudnn);
    } else {  // RINGLM_ATTENTION=cudnn would time the tiled kernel again under cuDNN's name
        checker.note("attention cudnn", "SKIPPED", "built without cuDNN (CMake found no libcudnn)");
    }
    for (DType input : {DType::f32, DType::bf16}) {
        std::string fastest = "none ran";
        double fastest_ms = 0;
        for (AttentionKernel kernel : kernels) {
            const double ms = bench_attention(checker, 8192, 32, 8, 128, kernel, input, rng);
            if (ms > 0 && (fastest_ms == 0 || ms < fastest_ms)) {
                fastest_ms = ms;
                fastest = kernel == AttentionKernel::tiled    ? "tiled"
                          : kernel == AttentionKernel::tensor ? "tensor"
                                                              : "cudnn";
            }
        }
        char detail[96];
        std::snprintf(detail, sizeof detail, "fwd + bwd %.3f ms; the default only if its correctness rows passed",
                      fastest_ms);
        checker.note(std::string("attention T 8192 fastest, ") + dtype_name(input) + " in", fastest, detail);
    }
    return peaks;
}

}  // namespace ringlm::gpu_check
