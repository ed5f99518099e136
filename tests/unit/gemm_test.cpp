// Backend::gemm against naive f64 triple loops: every transpose combination, 2-D, batched and
// batched with a shared 2-D B, with alpha and beta both away from 0 and 1.
#include "backend/cpu/cpu_threads.h"
#include "naive_matmul.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ringlm {
using namespace ringlm::testing;

namespace {


// C = alpha op(A) op(B) + beta C by the backend in `dtype`, against the naive product in f64.
double gemm_error(Layout layout, bool transpose_a, bool transpose_b, DType dtype, std::mt19937_64& rng) {
    const int64_t batch = 3, M = 7, N = 6, K = 5;  // all different, so a swapped size or stride shows
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
                EXPECT_LE(gemm_error(layout, transpose_a, transpose_b, DType::f64, rng), 1e-13) << "f64 " << where;
                EXPECT_LE(gemm_error(layout, transpose_a, transpose_b, DType::f32, rng), 1e-6) << "f32 " << where;
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

// The OpenBLAS that runs is the one the build chose: Debian's alternatives link
// (libopenblas.so.0) must not swap the OpenMP build for the pthread one at run time
// (CMakeLists.txt puts its folder in the RUNPATH).
TEST(Gemm, TheChosenOpenBLASBuildIsTheOneLoaded) {
    if (!built_with_openblas_openmp()) GTEST_SKIP() << "built with RINGLM_OPENBLAS=system: " << blas_description();
    EXPECT_NE(blas_description().find("(openmp threads)"), std::string::npos) << blas_description();
}

}  // namespace ringlm
