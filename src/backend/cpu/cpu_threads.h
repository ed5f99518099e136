// Threads of the CPU backend: OpenMP for our loops and OpenBLAS for sgemm, set together so a
// rank never runs more threads than it was given (ranks sharing cores want one each).
#pragma once

namespace ringlm {

void set_cpu_threads(int threads);
int cpu_threads();

}  // namespace ringlm
