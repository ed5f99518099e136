#include "cuda_check.h"

#include "util/error.h"

namespace ringlm::kernels {

bool synchronize_after_launch = false;
long long host_waits = 0;

void wait_for_stream(cudaStream_t stream) {
    host_waits++;
    const cudaError_t status = cudaStreamSynchronize(stream);
    if (status != cudaSuccess)
        throw_cuda_error("CUDA", "cudaStreamSynchronize (wait_for_stream)", cudaGetErrorString(status), __FILE__,
                         __LINE__);
}

void throw_cuda_error(const char* library, const char* call, const char* error, const char* file, int line) {
    fail("cuda backend: {} call {} failed at {}:{}: {}", library, call, file, line, error);
}

}  // namespace ringlm::kernels
