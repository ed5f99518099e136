// SwiGLU: out = silu(a) * up, silu(a) = a * sigmoid(a), a = gate.
//   dgate += dout * up * sigmoid(a) * (1 + a (1 - sigmoid(a))),   dup += dout * silu(a)
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

__device__ inline float sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }

__global__ void swiglu_forward_kernel(float* out, const float* gate, const float* up, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float a = gate[i];
        out[i] = a * sigmoid(a) * up[i];
    }
}

__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                                       int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float a = gate[i], s = sigmoid(a);
        dgate[i] += dout[i] * up[i] * s * (1.0f + a * (1.0f - s));
        dup[i] += dout[i] * a * s;
    }
}

}  // namespace

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    swiglu_forward_kernel<<<grid_for(n, threads), threads, 0, stream>>>(out, gate, up, n);
    CUDA_CHECK_LAUNCH("swiglu_forward_kernel");
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n,
                     cudaStream_t stream) {
    if (n == 0) return;
    swiglu_backward_kernel<<<grid_for(n, threads), threads, 0, stream>>>(dgate, dup, dout, gate, up, n);
    CUDA_CHECK_LAUNCH("swiglu_backward_kernel");
}

}  // namespace ringlm::kernels
