// RoPE, Hugging Face "rotate halves" layout; the formulas are in src/backend/backend.h.
// For i < D/2, angle = position_ids[t] * inverse_frequency[i] (the table model/rope_scaling.h fills):
//   y[i] = s (x[i] cos - x[i+D/2] sin),   y[i+D/2] = s (x[i+D/2] cos + x[i] sin)
// The angle and its sine and cosine are computed in double: positions reach 10^5 and more,
// where a float angle is already off by 10^-2 radians.
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

// One thread per (token t, pair i); it rotates pair i of every head of token t.
// direction +1: y = R(angle) x (forward); -1: y += R(-angle) x (backward, accumulating).
// X: float or __nv_bfloat16 for x and y (bf16 q and k), rotated in f32.
template <typename X>
__global__ void rope_kernel(X* y, const X* x, const int32_t* position_ids, int64_t T, int64_t H, int64_t D,
                            const double* inverse_frequency, double scale, int direction) {
    const int64_t half = D / 2;
    const int64_t work = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (work >= T * half) return;
    const int64_t t = work / half, i = work % half;
    double sine, cosine;
    sincos(double(position_ids[t]) * inverse_frequency[i], &sine, &cosine);
    const float c = float(scale * cosine);
    const float s = direction > 0 ? float(scale * sine) : -float(scale * sine);
    for (int64_t h = 0; h < H; h++) {
        const int64_t base = (t * H + h) * D;
        const float first = to_float(x[base + i]), second = to_float(x[base + i + half]);
        const float rotated_first = first * c - second * s;
        const float rotated_second = second * c + first * s;
        if (direction > 0) {
            y[base + i] = from_float<X>(rotated_first);
            y[base + i + half] = from_float<X>(rotated_second);
        } else {
            y[base + i] = from_float<X>(to_float(y[base + i]) + rotated_first);
            y[base + i + half] = from_float<X>(to_float(y[base + i + half]) + rotated_second);
        }
    }
}

}  // namespace

void rope(ActivationOut y, ActivationIn x, const int32_t* position_ids, int64_t T, int64_t H, int64_t D,
          const double* inverse_frequency, double scale, int direction, cudaStream_t stream) {
    const int64_t work = T * (D / 2);
    if (work == 0) return;
    const unsigned blocks = static_cast<unsigned>((work + threads - 1) / threads);
    with_element_type(x.dtype, [&](auto x_type) {
        using X = decltype(x_type);
        rope_kernel<<<blocks, threads, 0, stream>>>(static_cast<X*>(y.data), static_cast<const X*>(x.data), position_ids,
                                                    T, H, D, inverse_frequency, scale, direction);
    });
    CUDA_CHECK_LAUNCH("rope_kernel");
}

}  // namespace ringlm::kernels
