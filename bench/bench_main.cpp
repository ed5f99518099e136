// main() of the benchmark binaries. MPI comes up first (a single process runs as MPI's
// singleton; under mpiexec every rank runs). Every rank runs the same benchmarks in the same
// order, so collectives inside them match; benchmarks that talk to other ranks fix their
// iteration counts (Google Benchmark's own choice is per process and would desynchronise the
// ranks). Only rank 0 reports: the others get a reporter that prints nothing.
#include "parallel/mpi_runtime.h"

#include <benchmark/benchmark.h>

#include <cstring>

namespace {

class SilentReporter : public benchmark::BenchmarkReporter {
public:
    bool ReportContext(const Context&) override { return true; }
    void ReportRuns(const std::vector<Run>&) override {}
};

bool has_output_file(int argc, char** argv) {
    for (int i = 1; i < argc; i++)
        if (std::strncmp(argv[i], "--benchmark_out=", 16) == 0) return true;
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    ringlm::MpiRuntime mpi(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    if (mpi.rank() == 0) {
        benchmark::RunSpecifiedBenchmarks();
    } else {
        // Google Benchmark refuses a file reporter without --benchmark_out, and needs one with it.
        SilentReporter silent;
        if (has_output_file(argc, argv)) {
            benchmark::RunSpecifiedBenchmarks(&silent, &silent);
        } else {
            benchmark::RunSpecifiedBenchmarks(&silent);
        }
    }
    benchmark::Shutdown();
    return 0;
}
