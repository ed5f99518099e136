// The GPU check's shared parts (gpu_check.h): device <-> host helpers, the Checker's rows, the
// final table, and quick weights for the large models. Linked by gpu_check and gpu_sp_check.
#include "cuda_backend.h"
#include "gpu_check.h"
#include "backend/cpu/cpu_backend.h"
#include "data/batch.h"
#include "ops/ops.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace ringlm::gpu_check {

using testing::max_relative_error;

Backend& cpu() { return cpu_backend(); }
Backend& gpu() { return backend_for(Device::cuda); }
CudaBackend& cuda() { return static_cast<CudaBackend&>(gpu()); }

Tensor to_device(const Tensor& host) {
    Tensor device = empty(host.shape(), host.dtype(), Device::cuda);
    gpu().copy(device, host);
    return device;
}

Tensor to_host(const Tensor& device) {
    Tensor host = empty(device.shape(), device.dtype(), Device::cpu);
    gpu().copy(host, device);
    return host;
}

Tensor poisoned(Shape shape, Device device, DType dtype) {
    Tensor x = empty(shape, dtype, device);
    backend_for(device).fill(x, NAN);
    return x;
}

Tensor host_as(const Tensor& host, DType dtype) {
    Tensor converted = empty(host.shape(), dtype, Device::cpu);
    cpu().copy(converted, host);
    return converted;
}

Tensor added(const Tensor& after, const Tensor& before_host) {
    Tensor difference = empty(after.shape(), after.dtype(), Device::cpu);
    backend(after).copy(difference, after);
    cpu().axpy(difference, before_host, -1.0);
    return difference;
}

void Checker::check(const std::string& kernel, const std::function<void()>& body) {
    if (!context_lost.empty()) return;
    try {
        body();
    } catch (const std::exception& error) {
        if (context_lost.empty()) add(kernel, false, std::string("exception: ") + error.what());
    } catch (...) {
        if (context_lost.empty()) add(kernel, false, "exception of an unknown type");
    }
    // An error still pending on the device fails this check. One that is reported once is
    // cleared by cudaGetLastError; a fault inside a kernel (an illegal address, say) is sticky:
    // it survives that, and every later CUDA call returns it.
    if (!context_lost.empty()) return;
    const cudaError_t pending = cudaDeviceSynchronize();
    if (pending == cudaSuccess) return;
    cudaGetLastError();
    if (cudaDeviceSynchronize() == cudaSuccess) {
        add(kernel + ": CUDA error at the end", false, cudaGetErrorString(pending));
        return;
    }
    context_lost = std::string(cudaGetErrorString(pending)) + ", after \"" + kernel + "\"";
    add("CUDA context lost", false, context_lost + ": later checks do not run");
}

void Checker::compare(const std::string& kernel, const Tensor& actual, const Tensor& expected, double tolerance) {
    const Tensor actual_host = actual.device() == Device::cuda ? to_host(actual) : actual;
    int64_t nans = 0;
    if (is_floating(actual_host.dtype())) {
        const Tensor actual_f64 = testing::to_dtype(actual_host, DType::f64);
        for (int64_t i = 0; i < actual_f64.numel(); i++) nans += std::isnan(actual_f64.data<double>()[i]);
    }
    const double error = nans ? INFINITY : max_relative_error(actual_host, expected);
    char detail[96];
    if (nans) {
        std::snprintf(detail, sizeof detail, "%lld of %lld values NaN (tolerance %.0e)", static_cast<long long>(nans),
                      static_cast<long long>(actual_host.numel()), tolerance);
    } else {
        std::snprintf(detail, sizeof detail, "error %.2e (tolerance %.0e)", error, tolerance);
    }
    add(kernel, error <= tolerance, detail);  // a NaN or infinite error fails
}

void Checker::compare_value(const std::string& kernel, double actual, double expected, double tolerance) {
    const double error = std::fabs(actual - expected) / std::max(std::fabs(expected), 1e-300);
    char detail[64];
    std::snprintf(detail, sizeof detail, "error %.2e (tolerance %.0e)", error, tolerance);
    add(kernel, error <= tolerance, detail);
}

void Checker::add(const std::string& kernel, bool passed, const std::string& detail) {
    std::printf("%s  %-46s %s\n", passed ? "PASS" : "FAIL", kernel.c_str(), detail.c_str());
    rows.push_back({kernel, passed ? "PASS" : "FAIL", detail, !passed});
}

void Checker::note(const std::string& kernel, const std::string& result, const std::string& detail, bool failed) {
    const bool skipped = result == "SKIPPED" || result == "NOT RUN";
    std::printf("%-5s %-46s %s  (%s)\n", failed ? "FAIL" : (skipped ? "SKIP" : "BENCH"), kernel.c_str(), result.c_str(),
                detail.c_str());
    rows.push_back({kernel, result, detail, failed});
}

int print_table(const std::vector<Row>& rows, const std::string& title, uint64_t seed) {
    int failed = 0;
    size_t width = title.size();
    for (const Row& row : rows) width = std::max(width, row.kernel.size());
    std::printf("\n%-*s | %-16s | %s\n", static_cast<int>(width), title.c_str(), "result", "error or time");
    std::printf("%s\n", std::string(width + 50, '-').c_str());
    for (const Row& row : rows) {
        std::printf("%-*s | %-16s | %s\n", static_cast<int>(width), row.kernel.c_str(), row.result.c_str(),
                    row.detail.c_str());
        failed += row.failed;
    }
    std::printf("\n%s: %d of %zu rows failed (seed %llu)\n", failed ? "FAILED" : "PASSED", failed, rows.size(),
                static_cast<unsigned long long>(seed));
    return failed;
}

Tensor forward_backward(Llama& model, const TokenBatch& host_batch, const ForwardOptions& options) {
    const TokenBatch batch = to_device(host_batch, model.parameters.device());
    backend(model.gradients).fill(model.gradients, 0.0);
    Tape tape;
    Grads grads;
    bind_gradients(model, grads);
    Tensor loss_sum = sum(tape, llama_token_losses(tape, model, batch, options));
    tape.backward(loss_sum, grads);
    return loss_sum;
}

ModelConfig llama32_1b_config(int64_t max_position) {
    ModelConfig config;
    config.dim = 2048;
    config.n_layers = 16;
    config.n_heads = 32;
    config.n_kv_heads = 8;
    config.ffn_dim = 8192;
    config.vocab_size = 128256;
    config.max_position = max_position;
    config.rope_theta = 500000.0;
    config.tied_embeddings = true;
    return config;
}

void fill_parameters_quickly(Llama& model) {
    constexpr uint64_t seed = 20261128;  // fixed: the same weights on every rank and machine
    const int64_t block = 1 << 20;
    Tensor host = empty({block}, DType::f32, Device::cpu);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (int64_t i = 0; i < block; i++) host.data<float>()[i] = normal(rng);
    const int64_t n = model.parameters.numel();
    for (int64_t begin = 0; begin < n; begin += block) {
        Tensor slice = model.parameters.rows(begin, std::min(n, begin + block));
        backend(slice).copy(slice, host.rows(0, slice.numel()));
    }
    for (const NamedParameter& p : model.named) {
        if (p.decay) continue;  // norms start at 1
        Tensor norm = p.value;
        backend(norm).fill(norm, 1.0);
    }
}

}  // namespace ringlm::gpu_check
