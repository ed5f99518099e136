// Backend::gemm and ringlm's packed GEMM against naive f64 triple loops: every transpose
// combination, 2-D, batched and batched with a shared 2-D B, with alpha and beta both away from
// 0 and 1, at sizes inside one register block and across every block edge of the packed GEMM.
#include "backend/cpu/cpu_threads.h"
#include "backend/cpu/packed_gemm.h"
#include "naive_matmul.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace ringlm {
using namespace ringlm::testing;

namespace {


// C = alpha op(A) op(B) + beta C by the backend in `dtype`, against the naive product in f64.
// Sizes all different, so a swapped size or stride shows.
struct GemmSize {
    int64_t M, N, K;
};
// Inside one register block (and below packed_gemm_rows_per_thread, so OpenBLAS runs where
// it is linked); and across the packed GEMM's edges: partial row strips (8 rows), column strips (32),
// row blocks (up to 128) and panels of k (256).
constexpr GemmSize small_size{7, 6, 5}, edge_size{300, 77, 600};

double gemm_error(Layout layout, bool transpose_a, bool transpose_b, DType dtype, GemmSize size, std::mt19937_64& rng) {
    const int64_t batch = 3, M = size.M, N = size.N, K = size.K;
    const double alpha = 0.7, beta = -1.3;
    const Shape a_item = transpose_a ? Shape{K, M} : Shape{M, K};
    const Shape b_item = transpose_b ? Shape{N, K} : Shape{K, N};
    const bool batched = layout != Layout::single;
    Tensor a = random_uniform(batched ? Shape{batch, a_item[0], a_item[1]} : a_item, DType::f64, rng);
    Tensor b = random_uniform(layout == Layout::batched ? Shape{batch, b_item[0], b_item[1]} : b_item, DType::f64, rng);
    Tensor c = random_uniform(batched ? Shape{batch, M, N} : Shape{M, N}, DType::f64, rng);

    Tensor expected = empty(c.shape(), DType::f64);
    for (int64_t item = 0; item < (batched ? batch : 1); item++) {
        const double* a_p = a.data<double>() + item * M * K;
        const double* b_p = b.data<double>() + (layout == Layout::batched ? item * K * N : 0);
        std::vector<double> product = naive_matmul(a_p, b_p, M, N, K, transpose_a, transpose_b);
        for (int64_t e = 0; e < M * N; e++)
            expected.data<double>()[item * M * N + e] = alpha * product[e] + beta * c.data<double>()[item * M * N + e];
    }

    Tensor a_d = to_dtype(a, dtype), b_d = to_dtype(b, dtype), c_d = to_dtype(c, dtype);
    backend(a_d).gemm(c_d, a_d, b_d, transpose_a, transpose_b, alpha, beta);
    return max_relative_error(c_d, expected);
}

}  // namespace

TEST(Gemm, EveryTransposeAndLayoutMatchesNaiveLoops) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    for (Layout layout : {Layout::single, Layout::batched, Layout::shared_b}) {
        for (bool transpose_a : {false, true}) {
            for (bool transpose_b : {false, true}) {
                const std::string where = fmt::format("{} transpose_a={} transpose_b={}, seed {}", layout_name(layout),
                                                      transpose_a, transpose_b, seed);
                for (GemmSize size : {small_size, edge_size}) {
                    const std::string at = fmt::format("{} M {} N {} K {}", where, size.M, size.N, size.K);
                    EXPECT_LE(gemm_error(layout, transpose_a, transpose_b, DType::f64, size, rng), 1e-13) << "f64 " << at;
                    EXPECT_LE(gemm_error(layout, transpose_a, transpose_b, DType::f32, size, rng), 2e-6) << "f32 " << at;
                }
            }
        }
    }
}

TEST(Gemm, BetaZeroIgnoresNaNInOutput) {
    // beta = 0 must overwrite, not multiply: an uninitialised output may hold NaN.
    Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2});
    Tensor b = from_vector<double>({5, 6, 7, 8}, {2, 2});
    Tensor c = from_vector<double>({NAN, NAN, NAN, NAN}, {2, 2});
    backend(a).gemm(c, a, b, false, false, 1.0, 0.0);
    EXPECT_EQ(to_vector<double>(c), (std::vector<double>{19, 22, 43, 50}));
}

// packed_gemm itself (Backend::gemm may run OpenBLAS instead): f32 and f64, every transpose,
// sizes from one partial register block to several row blocks, column strips and panels of k,
// beta 0 over a NaN-filled C and beta away from 0 and 1.
TEST(PackedGemm, MatchesNaiveLoopsAcrossEveryBlockEdge) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    auto check = [&]<typename T>(T, GemmSize size, bool transpose_a, bool transpose_b, double beta, double tolerance) {
        const int64_t M = size.M, N = size.N, K = size.K;
        std::vector<double> a(M * K), b(K * N), c(M * N);
        for (auto* x : {&a, &b, &c})
            for (double& e : *x) e = uniform(rng);
        std::vector<T> a_t(a.begin(), a.end()), b_t(b.begin(), b.end()), c_t(c.begin(), c.end());
        if (beta == 0) std::fill(c_t.begin(), c_t.end(), std::numeric_limits<T>::quiet_NaN());
        // rounded inputs, so the reference sees what the GEMM sees
        std::vector<double> a_r(a_t.begin(), a_t.end()), b_r(b_t.begin(), b_t.end());
        std::vector<double> expected = naive_matmul(a_r.data(), b_r.data(), M, N, K, transpose_a, transpose_b);
        const double alpha = 0.7;
        double worst = 0, largest = 0;
        packed_gemm(transpose_a, transpose_b, M, N, K, alpha, a_t.data(), b_t.data(), beta, c_t.data());
        for (int64_t e = 0; e < M * N; e++) {
            expected[e] = alpha * expected[e] + (beta == 0 ? 0.0 : beta * static_cast<double>(static_cast<T>(c[e])));
            worst = std::max(worst, std::isnan(static_cast<double>(c_t[e])) ? INFINITY : std::abs(c_t[e] - expected[e]));
            largest = std::max(largest, std::abs(expected[e]));
        }
        EXPECT_LE(worst / largest, tolerance) << (sizeof(T) == 4 ? "f32" : "f64") << " M " << M << " N " << N << " K " << K
                                              << " transpose_a " << transpose_a << " transpose_b " << transpose_b
                                              << " beta " << beta << ", seed " << seed;
    };
    for (GemmSize size : {GemmSize{5, 3, 2}, GemmSize{33, 40, 257}, GemmSize{300, 77, 600}, GemmSize{264, 96, 512}})
        for (bool transpose_a : {false, true})
            for (bool transpose_b : {false, true})
                for (double beta : {0.0, -1.3}) {
                    check(float{}, size, transpose_a, transpose_b, beta, 2e-6);
                    check(double{}, size, transpose_a, transpose_b, beta, 1e-13);
                }
}

// Threads split the rows of C, never a sum: the same bits at 1, 2 and 3 threads.
TEST(PackedGemm, SameBitsAtEveryThreadCount) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const int64_t M = 300, N = 100, K = 600;
    std::vector<float> a(M * K), b(K * N);
    for (auto* x : {&a, &b})
        for (float& e : *x) e = uniform(rng);
    const int threads_before = cpu_threads();
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
        set_cpu_threads(threads);
        std::vector<float> c(M * N);
        packed_gemm(false, true, M, N, K, 1.0, a.data(), b.data(), 0.0, c.data());
        results.push_back(c);
    }
    set_cpu_threads(threads_before);
    EXPECT_EQ(results[0], results[1]) << "seed " << seed;
    EXPECT_EQ(results[0], results[2]) << "seed " << seed;
}

// The OpenBLAS that runs is the one the build chose: Debian's alternatives link
// (libopenblas.so.0) must not swap the OpenMP build for the pthread one at run time
// (CMakeLists.txt puts its folder in the RUNPATH).
TEST(Gemm, TheChosenOpenBLASBuildIsTheOneLoaded) {
    if (!built_with_openblas_openmp()) GTEST_SKIP() << "built with RINGLM_OPENBLAS=system: " << blas_description();
    EXPECT_NE(blas_description().find("(openmp threads)"), std::string::npos) << blas_description();
}

}  // namespace ringlm
