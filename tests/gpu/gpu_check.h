// What the GPU check's files share: the rows of the final table, the comparison helper, and
// device <-> host helpers. gpu_check.cpp: main, memory, GEMM, elementwise;
// gpu_check_layers.cpp: the layer kernels; gpu_check_attention.cpp: attention;
// gpu_bench.cpp: the timings.
#pragma once

#include "backend/backend.h"

#include <functional>
#include <random>
#include <string>
#include <vector>

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
Tensor to_device(const Tensor& host);
Tensor to_host(const Tensor& device);
Tensor poisoned(Shape shape, Device device, DType dtype = DType::f32);  // filled with NaN
Tensor host_as(const Tensor& host, DType dtype);                        // dtype conversion on the host

struct Checker {
    std::vector<Row>& rows;

    // Runs `body`, which calls compare() for each output; an exception (a CUDA error, or a CPU
    // kernel not written yet) fails the check with its message.
    void check(const std::string& kernel, const std::function<void()>& body);
    // Normwise relative error over every element; NaN never passes.
    void compare(const std::string& kernel, const Tensor& actual, const Tensor& expected, double tolerance);
    void compare_value(const std::string& kernel, double actual, double expected, double tolerance);
    void add(const std::string& kernel, bool passed, const std::string& detail);
};

void check_layers(Checker& checker, std::mt19937_64& rng);
void check_attention(Checker& checker, std::mt19937_64& rng);
void run_benchmarks(std::vector<Row>& rows, std::mt19937_64& rng);

}  // namespace ringlm::gpu_check
