#include "backend/cpu/cpu_threads.h"

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

}  // namespace ringlm
