// Every CUDA runtime and cuBLASLt call goes through one of these checks; a failure throws
// ringlm::Error naming the call, the file:line and the library's error string. Kernels are
// checked right after their launch (launch errors) by CUDA_CHECK_LAUNCH; errors that happen
// while a kernel runs surface at the next synchronising call, which is checked too.
//
// This header includes no fmt (nvcc's front end cannot parse fmt 9's consteval format
// strings), so .cu files can use it; the message is formatted in cuda_check.cpp.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

namespace ringlm::kernels {

[[noreturn]] void throw_cuda_error(const char* library, const char* call, const char* error, const char* file,
                                   int line);

// When true, CUDA_CHECK_LAUNCH also waits for the kernel, so a fault inside a kernel is reported
// with that kernel's name instead of at some later call (the GPU check sets it for its
// correctness checks; it costs a device round trip per launch).
extern bool synchronize_after_launch;

// The host waits for `stream` to finish. Every such wait in the backend goes through here, so
// the waits a training step makes can be counted: host_waits (since the process started) is
// what the GPU check reports per step. Each one stalls the host until the GPU drains.
void wait_for_stream(cudaStream_t stream);
extern long long host_waits;

}  // namespace ringlm::kernels

#define CUDA_CHECK(call)                                                                                    \
    do {                                                                                                    \
        const cudaError_t cuda_status_ = (call);                                                            \
        if (cuda_status_ != cudaSuccess)                                                                    \
            ::ringlm::kernels::throw_cuda_error("CUDA", #call, cudaGetErrorString(cuda_status_), __FILE__,  \
                                                __LINE__);                                                  \
    } while (0)

#define CUBLAS_CHECK(call)                                                                                  \
    do {                                                                                                    \
        const cublasStatus_t cublas_status_ = (call);                                                       \
        if (cublas_status_ != CUBLAS_STATUS_SUCCESS)                                                        \
            ::ringlm::kernels::throw_cuda_error("cuBLASLt", #call, cublasLtGetStatusString(cublas_status_), \
                                                __FILE__, __LINE__);                                        \
    } while (0)

// After `kernel<<<...>>>(...)`: a bad configuration (too much shared memory, too many threads)
// is reported here, naming the kernel.
#define CUDA_CHECK_LAUNCH(kernel_name)                                                                      \
    do {                                                                                                    \
        cudaError_t cuda_status_ = cudaGetLastError();                                                      \
        if (cuda_status_ == cudaSuccess && ::ringlm::kernels::synchronize_after_launch)                     \
            cuda_status_ = cudaDeviceSynchronize();                                                         \
        if (cuda_status_ != cudaSuccess)                                                                    \
            ::ringlm::kernels::throw_cuda_error("CUDA", "launch of " kernel_name,                           \
                                                cudaGetErrorString(cuda_status_), __FILE__, __LINE__);      \
    } while (0)
