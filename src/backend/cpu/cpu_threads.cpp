#include "backend/cpu/cpu_threads.h"

#include "backend/cpu/packed_gemm.h"

#include <omp.h>

#ifdef RINGLM_WITH_BLAS
#include <cblas.h>
#endif

namespace ringlm {

void set_cpu_threads(int threads) {
    omp_set_num_threads(threads);
#ifdef RINGLM_WITH_BLAS
    openblas_set_num_threads(threads);
#endif
}

int cpu_threads() { return omp_get_max_threads(); }

std::string blas_description() {
#ifdef RINGLM_WITH_BLAS
    // openblas_get_parallel: 0 sequential, 1 its own pthreads, 2 OpenMP.
    const int parallel = openblas_get_parallel();
    const char* threading = parallel == 2 ? "openmp" : parallel == 1 ? "pthread" : "serial";
    const std::string f32_gemm = packed_gemm_replaces_sgemm() ? "; f32 GEMM from " +
                                                                    std::to_string(packed_gemm_rows_per_thread) +
                                                                    " rows per thread: ringlm packed (AVX-512)"
                                                              : "";
    return std::string(openblas_get_config()) + " (" + threading + " threads)" + f32_gemm;
#else
    return "no BLAS (ringlm packed GEMM)";
#endif
}

bool built_with_blas() {
#ifdef RINGLM_WITH_BLAS
    return true;
#else
    return false;
#endif
}

bool built_with_openblas_openmp() {
#ifdef RINGLM_OPENBLAS_OPENMP
    return true;
#else
    return false;
#endif
}

}  // namespace ringlm
