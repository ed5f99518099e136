// GPU check: every Backend kernel on the CUDA backend against the CPU backend on the same
// random inputs (fresh seed, printed; RINGLM_TEST_SEED repeats a run), the NCCL transport on
// one rank (gpu_check_nccl.cpp), then the model on both backends (a 20-step training run,
// stories260K generation: gpu_check_training.cpp), then benchmarks (gpu_bench.cpp; the
// training step's MFU), then one short table. Exit status 1 if any check failed.
//
// Rules: forward outputs are poisoned with NaN before each run (an element a kernel forgets
// to write fails, since NaN never passes); gradient outputs ACCUMULATE, so both sides start
// from the same random values. Error is normwise over every element,
// max|actual - expected| / max|expected|: f32 <= 1e-5, bf16 GEMM <= 1e-2, copies exact.
//
// A failing check (an exception, a CUDA error, a cuDNN plan failure) fails its row and the next
// one runs; a sticky CUDA error (a kernel's illegal address) ends the checks with one row that
// says where, the parts left say NOT RUN, and the table still prints. Rows print as they run,
// line by line, so a crash or a timeout (tests/gpu/check.sh) keeps what ran.
//
// Without a CUDA device it prints "no CUDA device: skipped" and exits 77, ctest's
// SKIP_RETURN_CODE for it (CI shows Skipped); with --require-device (tests/gpu/check.sh on a
// GPU machine) it exits 1 instead.
#include "backend/cpu/cpu_backend.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "gpu_check.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ringlm::gpu_check {

using testing::max_relative_error;
using testing::random_uniform;

namespace {

// --- memory, GEMM, elementwise ---------------------------------------------------------------

void check_memory(Checker& checker, std::mt19937_64& rng) {
    const Tensor x = random_uniform({1001, 3}, DType::f32, rng, -3, 3);
    checker.check("copy host<->device f32", [&] { checker.compare("copy host<->device f32", to_device(x), x, 0); });
    for (auto [from, to] : {std::pair{DType::f32, DType::bf16}, {DType::bf16, DType::f32}, {DType::f32, DType::f64},
                            {DType::f64, DType::bf16}}) {
        const std::string name = std::string("copy device ") + dtype_name(from) + "->" + dtype_name(to);
        checker.check(name, [&] {
            const Tensor source = host_as(x, from);
            Tensor converted = poisoned(x.shape(), Device::cuda, to);
            gpu().copy(converted, to_device(source));
            checker.compare(name, converted, host_as(source, to), 0);
        });
    }
    checker.check("copy host f32 -> device bf16 -> host f32", [&] {
        Tensor device_bf16 = poisoned(x.shape(), Device::cuda, DType::bf16);
        gpu().copy(device_bf16, x);
        Tensor back = poisoned(x.shape(), Device::cpu);
        gpu().copy(back, device_bf16);
        checker.compare("copy host f32 -> device bf16 -> host f32", back, host_as(host_as(x, DType::bf16), DType::f32), 0);
    });
    checker.check("fill", [&] {
        Tensor expected = empty({777}, DType::f32), actual = poisoned({777}, Device::cuda);
        cpu().fill(expected, -2.5);
        gpu().fill(actual, -2.5);
        checker.compare("fill", actual, expected, 0);
    });
}

struct GemmCase {
    const char* label;
    Shape a, b, c;
    bool transpose_a, transpose_b;
    double alpha, beta;
};

void check_gemm(Checker& checker, std::mt19937_64& rng) {
    const int64_t M = 67, N = 45, K = 129, B = 3;
    const GemmCase cases[] = {
        {"gemm f32 NN", {M, K}, {K, N}, {M, N}, false, false, 0.7, 0.0},
        {"gemm f32 NT", {M, K}, {N, K}, {M, N}, false, true, 1.0, 0.0},
        {"gemm f32 TN", {K, M}, {K, N}, {M, N}, true, false, 1.0, 0.0},
        {"gemm f32 TT beta=0.5", {K, M}, {N, K}, {M, N}, true, true, -1.3, 0.5},
        {"gemm f32 batched NT", {B, M, K}, {B, N, K}, {B, M, N}, false, true, 1.0, 0.0},
        {"gemm f32 batched TN beta=1", {B, K, M}, {B, K, N}, {B, M, N}, true, false, 1.0, 1.0},
        {"gemm f32 batched shared B NN", {B, M, K}, {K, N}, {B, M, N}, false, false, 1.0, 0.0},
        {"gemm f32 batched shared B TT", {B, K, M}, {N, K}, {B, M, N}, true, true, 1.0, 0.0},
    };
    for (const GemmCase& test : cases) {
        checker.check(test.label, [&] {
            const Tensor a = random_uniform(test.a, DType::f32, rng), b = random_uniform(test.b, DType::f32, rng);
            // beta = 0 must not read C: poison it; otherwise both start from the same values
            Tensor expected = test.beta == 0 ? poisoned(test.c, Device::cpu) : random_uniform(test.c, DType::f32, rng);
            Tensor actual = test.beta == 0 ? poisoned(test.c, Device::cuda) : to_device(expected);
            cpu().gemm(expected, a, b, test.transpose_a, test.transpose_b, test.alpha, test.beta);
            gpu().gemm(actual, to_device(a), to_device(b), test.transpose_a, test.transpose_b, test.alpha, test.beta);
            checker.compare(test.label, actual, expected, f32_tolerance);
        });
    }
    checker.check("gemm f32 NT, A at a 4-byte offset", [&] {
        // a view one row into its storage: the pointer is only 4-byte aligned
        const Tensor a_storage = random_uniform({M + 1, K}, DType::f32, rng), b = random_uniform({N, K}, DType::f32, rng);
        Tensor expected = poisoned({M, N}, Device::cpu), actual = poisoned({M, N}, Device::cuda);
        cpu().gemm(expected, a_storage.rows(1, M + 1), b, false, true, 1.0, 0.0);
        gpu().gemm(actual, to_device(a_storage).rows(1, M + 1), to_device(b), false, true, 1.0, 0.0);
        checker.compare("gemm f32 NT, A at a 4-byte offset", actual, expected, f32_tolerance);
    });
    for (DType c_dtype : {DType::f32, DType::bf16}) {
        const std::string name = std::string("gemm bf16 NT, C ") + dtype_name(c_dtype);
        checker.check(name, [&] {
            // the reference multiplies the bf16-rounded values in f32, so only the
            // accumulation (and for a bf16 C the output rounding) differs
            const Tensor a = host_as(random_uniform({128, 256}, DType::f32, rng), DType::bf16);
            const Tensor b = host_as(random_uniform({96, 256}, DType::f32, rng), DType::bf16);
            Tensor expected = poisoned({128, 96}, Device::cpu), actual = poisoned({128, 96}, Device::cuda, c_dtype);
            cpu().gemm(expected, host_as(a, DType::f32), host_as(b, DType::f32), false, true, 1.0, 0.0);
            gpu().gemm(actual, to_device(a), to_device(b), false, true, 1.0, 0.0);
            checker.compare(name, actual, expected, bf16_tolerance);
        });
    }
}

void check_elementwise(Checker& checker, std::mt19937_64& rng) {
    const int64_t n = 100003;
    const Tensor a = random_uniform({n}, DType::f32, rng), b = random_uniform({n}, DType::f32, rng);
    const Tensor a_device = to_device(a), b_device = to_device(b);
    checker.check("add", [&] {
        Tensor expected = poisoned({n}, Device::cpu), actual = poisoned({n}, Device::cuda);
        cpu().add(expected, a, b);
        gpu().add(actual, a_device, b_device);
        checker.compare("add", actual, expected, f32_tolerance);
    });
    checker.check("mul", [&] {
        Tensor expected = poisoned({n}, Device::cpu), actual = poisoned({n}, Device::cuda);
        cpu().mul(expected, a, b);
        gpu().mul(actual, a_device, b_device);
        checker.compare("mul", actual, expected, f32_tolerance);
    });
    checker.check("axpy", [&] {
        Tensor expected = host_as(a, DType::f32), actual = to_device(a);
        cpu().axpy(expected, b, -0.37);
        gpu().axpy(actual, b_device, -0.37);
        checker.compare("axpy", actual, expected, f32_tolerance);
    });
    checker.check("scale", [&] {
        Tensor expected = host_as(a, DType::f32), actual = to_device(a);
        cpu().scale(expected, 1.7);
        gpu().scale(actual, 1.7);
        checker.compare("scale", actual, expected, f32_tolerance);
    });
    checker.check("sum", [&] { checker.compare_value("sum", gpu().sum(a_device), cpu().sum(a), f32_tolerance); });
    checker.check("dot", [&] {
        checker.compare_value("dot", gpu().dot(a_device, b_device), cpu().dot(a, b), f32_tolerance);
    });
    checker.check("sum_to", [&] {
        Tensor expected = poisoned({1}, Device::cpu), actual = poisoned({1}, Device::cuda);
        cpu().sum_to(expected, a);
        gpu().sum_to(actual, a_device);
        checker.compare("sum_to", actual, expected, f32_tolerance);
    });
    checker.check("add_scalar", [&] {
        const Tensor s = host_as(b, DType::f32).rows(3, 4);  // one element, not the first
        Tensor expected = host_as(a, DType::f32), actual = to_device(a);
        cpu().add_scalar(expected, s);
        gpu().add_scalar(actual, to_device(s));
        checker.compare("add_scalar", actual, expected, f32_tolerance);
    });
}

}  // namespace

}  // namespace ringlm::gpu_check

// --- main ------------------------------------------------------------------------------------

int main(int argc, char** argv) {
    using namespace ringlm;
    using namespace ringlm::gpu_check;
    // Line by line, so a crash or check.sh's timeout keeps every row printed so far in the log.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    bool require_device = false, benchmarks = true;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--require-device") == 0) {
            require_device = true;
        } else if (std::strcmp(argv[i], "--no-bench") == 0) {
            benchmarks = false;
        } else {
            std::fprintf(stderr, "usage: gpu_check [--require-device] [--no-bench]\n");
            return 2;
        }
    }
    std::string device_name = "no device";
    std::vector<Row> rows;
    Checker checker{rows, ""};
    const uint64_t seed = testing::fresh_seed();
    try {
        if (!init_cuda_backend()) {
            int count = 0;
            const cudaError_t status = cudaGetDeviceCount(&count);
            std::printf("no CUDA device: skipped (%s)\n",
                        status == cudaSuccess ? "the runtime reports 0 devices" : cudaGetErrorString(status));
            return require_device ? 1 : 77;
        }
        cudaDeviceProp properties{};
        CUDA_CHECK(cudaGetDeviceProperties(&properties, 0));
        device_name = properties.name;
        std::printf("device: %s, %d multiprocessors, %.1f GiB, compute capability %d.%d\n", properties.name,
                    properties.multiProcessorCount, properties.totalGlobalMem / 1073741824.0, properties.major,
                    properties.minor);
        std::printf("seed %llu (RINGLM_TEST_SEED=%llu repeats this run)\n", static_cast<unsigned long long>(seed),
                    static_cast<unsigned long long>(seed));
        std::mt19937_64 rng(seed);
        BenchPeaks peaks;
        // Each part runs under check(): an exception that escapes it fails one row and the next
        // part runs; once the context is lost, each part left is one NOT RUN row.
        const std::vector<std::pair<std::string, std::function<void()>>> parts = {
            {"memory", [&] {
                 kernels::synchronize_after_launch = true;  // a kernel that faults is named in its row
                 check_memory(checker, rng);
             }},
            {"gemm", [&] { check_gemm(checker, rng); }},
            {"elementwise", [&] { check_elementwise(checker, rng); }},
            {"layers", [&] { check_layers(checker, rng); }},
            {"bf16 activations", [&] { check_bf16_activations(checker, rng); }},
            {"attention", [&] { check_attention(checker, rng); }},
            {"cudnn attention", [&] { check_cudnn_attention(checker, rng); }},
            {"nccl", [&] {
                 kernels::synchronize_after_launch = false;  // the model runs at full speed from here
                 check_nccl(checker, rng);  // after the sync above is off: it checks that nothing waits
             }},
            {"training", [&] { check_training(checker); }},
            {"benchmarks", [&] {
                 if (benchmarks) peaks = run_benchmarks(checker, rng);
             }},
            {"training step MFU", [&] {
                 if (benchmarks) bench_training_step(checker, peaks);
             }},
        };
        for (const auto& [part, run] : parts) {
            if (checker.context_lost.empty()) {
                checker.check(part, run);
            } else {
                checker.note(part, "NOT RUN", "CUDA context lost: " + checker.context_lost);
            }
        }
    } catch (const std::exception& error) {
        checker.add("gpu_check", false, std::string("error: ") + error.what());
    }

    const int failed = print_table(rows, "kernel on " + device_name, seed);
    return failed ? 1 : 0;
}
