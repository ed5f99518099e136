// SwiGLU: out = silu(a) * up, silu(a) = a * sigmoid(a), a = gate.
//   dgate += dout * up * sigmoid(a) * (1 + a (1 - sigmoid(a))),   dup += dout * silu(a)
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

__device__ inline float sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }

// X: float or __nv_bfloat16 (bf16 activations); the math and the gradients are f32.
template <typename X> __global__ void swiglu_forward_kernel(X* out, const X* gate, const X* up, int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float a = to_float(gate[i]);
        out[i] = from_float<X>(a * sigmoid(a) * to_float(up[i]));
    }
}

template <typename X>
__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout, const X* gate, const X* up,
                                       int64_t n) {
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float a = to_float(gate[i]), s = sigmoid(a);
        dgate[i] += dout[i] * to_float(up[i]) * s * (1.0f + a * (1.0f - s));
        dup[i] += dout[i] * a * s;
    }
}

}  // namespace

void swiglu_forward(ActivationOut out, ActivationIn gate, ActivationIn up, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    with_element_type(gate.dtype, [&](auto x_type) {
        using X = decltype(x_type);
        swiglu_forward_kernel<<<grid_for(n, threads), threads, 0, stream>>>(
            static_cast<X*>(out.data), static_cast<const X*>(gate.data), static_cast<const X*>(up.data), n);
    });
    CUDA_CHECK_LAUNCH("swiglu_forward_kernel");
}

void swiglu_backward(float* dgate, float* dup, const float* dout, ActivationIn gate, ActivationIn up, int64_t n,
                     cudaStream_t stream) {
    if (n == 0) return;
    with_element_type(gate.dtype, [&](auto x_type) {
        using X = decltype(x_type);
        swiglu_backward_kernel<<<grid_for(n, threads), threads, 0, stream>>>(
            dgate, dup, dout, static_cast<const X*>(gate.data), static_cast<const X*>(up.data), n);
    });
    CUDA_CHECK_LAUNCH("swiglu_backward_kernel");
}

}  // namespace ringlm::kernels
