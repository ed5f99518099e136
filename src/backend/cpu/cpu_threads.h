// Threads of the CPU backend: OpenMP for our loops and OpenBLAS for sgemm, set together so a
// rank never runs more threads than it was given (ranks sharing cores want one each).
#pragma once

#include <string>

namespace ringlm {

void set_cpu_threads(int threads);
int cpu_threads();

// The GEMM library as linked at run time, for benchmark headers and CSV rows: "OpenBLAS
// <version> openmp|pthread|serial <core>" (openblas_get_config, openblas_get_parallel), and
// whether f32 GEMMs run ringlm's packed GEMM instead (packed_gemm.h); or "no BLAS (ringlm
// packed GEMM)".
std::string blas_description();

// True when the build links OpenBLAS (every build but the GPU check's core-only one).
bool built_with_blas();

// True when the build linked OpenBLAS's OpenMP build by path (CMake RINGLM_OPENBLAS=openmp),
// so blas_description() must then say "openmp threads".
bool built_with_openblas_openmp();

}  // namespace ringlm
