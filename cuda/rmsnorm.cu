// RMSNorm kernels; the formulas are in src/backend/backend.h and src/ops/rmsnorm.cpp.
//   y = x * inv_rms * w,  inv_rms = 1 / sqrt(mean(x^2) + eps)          x, y [rows, C], w [C]
// x and y each f32 or bf16 (X, Y: bf16 activations; norm and cast in one pass), math in f32;
// w, inv_rms and the gradients f32.
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;
constexpr int64_t dw_chunk_rows = 64;  // rows summed by one block of the dw partial pass

// One block per row.
template <typename Y, typename X>
__global__ void rmsnorm_forward_kernel(Y* y, float* inv_rms, const X* x, const float* w, int64_t C, float eps) {
    __shared__ float shared[32];
    const int64_t row = blockIdx.x;
    const X* x_row = x + row * C;
    Y* y_row = y + row * C;
    float sum_squares = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) sum_squares += to_float(x_row[c]) * to_float(x_row[c]);
    sum_squares = block_sum(sum_squares, shared);
    const float r = 1.0f / sqrtf(sum_squares / float(C) + eps);
    if (threadIdx.x == 0) inv_rms[row] = r;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y_row[c] = from_float<Y>(to_float(x_row[c]) * r * w[c]);
}

// x_hat = x * r;  dx += r * (w*dy - x_hat * mean(w*dy * x_hat)).   One block per row.
template <typename X>
__global__ void rmsnorm_backward_dx_kernel(float* dx, const float* dy, const X* x, const float* w,
                                           const float* inv_rms, int64_t C) {
    __shared__ float shared[32];
    const int64_t row = blockIdx.x;
    const X* x_row = x + row * C;
    const float* dy_row = dy + row * C;
    float* dx_row = dx + row * C;
    const float r = inv_rms[row];
    float acc = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) acc += w[c] * dy_row[c] * to_float(x_row[c]) * r;
    const float mean_wdy_xhat = block_sum(acc, shared) / float(C);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
        dx_row[c] += r * (w[c] * dy_row[c] - to_float(x_row[c]) * r * mean_wdy_xhat);
}

// dw[c] = sum_t dy[t,c] x_hat[t,c], in two passes without atomics:
// partial[chunk, c] sums rows [chunk*64, chunk*64+64), then dw[c] += sum over chunks in order.
template <typename X>
__global__ void rmsnorm_backward_dw_partial_kernel(float* partial, const float* dy, const X* x,
                                                   const float* inv_rms, int64_t rows, int64_t C) {
    const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    const int64_t chunk = blockIdx.y;
    if (c >= C) return;
    const int64_t begin = chunk * dw_chunk_rows;
    const int64_t end = begin + dw_chunk_rows < rows ? begin + dw_chunk_rows : rows;
    float acc = 0;
    for (int64_t t = begin; t < end; t++) acc += dy[t * C + c] * to_float(x[t * C + c]) * inv_rms[t];
    partial[chunk * C + c] = acc;
}

__global__ void rmsnorm_backward_dw_sum_kernel(float* dw, const float* partial, int64_t chunks, int64_t C) {
    const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (c >= C) return;
    float acc = 0;
    for (int64_t chunk = 0; chunk < chunks; chunk++) acc += partial[chunk * C + c];
    dw[c] += acc;
}

}  // namespace

void rmsnorm_forward(ActivationOut y, float* inv_rms, ActivationIn x, const float* w, int64_t rows, int64_t C,
                     float eps, cudaStream_t stream) {
    if (rows == 0) return;
    with_element_type(y.dtype, [&](auto y_type) {
        with_element_type(x.dtype, [&](auto x_type) {
            using Y = decltype(y_type);
            using X = decltype(x_type);
            rmsnorm_forward_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(
                static_cast<Y*>(y.data), inv_rms, static_cast<const X*>(x.data), w, C, eps);
        });
    });
    CUDA_CHECK_LAUNCH("rmsnorm_forward_kernel");
}

int64_t rmsnorm_backward_scratch(int64_t rows, int64_t C) { return (rows + dw_chunk_rows - 1) / dw_chunk_rows * C; }

void rmsnorm_backward(float* dx, float* dw, const float* dy, ActivationIn x, const float* w, const float* inv_rms,
                      int64_t rows, int64_t C, float* scratch, cudaStream_t stream) {
    if (rows == 0 || C == 0) return;
    const int64_t chunks = (rows + dw_chunk_rows - 1) / dw_chunk_rows;
    const unsigned column_blocks = static_cast<unsigned>((C + threads - 1) / threads);
    with_element_type(x.dtype, [&](auto x_type) {
        using X = decltype(x_type);
        const X* x_values = static_cast<const X*>(x.data);
        rmsnorm_backward_dx_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(dx, dy, x_values, w, inv_rms, C);
        CUDA_CHECK_LAUNCH("rmsnorm_backward_dx_kernel");
        rmsnorm_backward_dw_partial_kernel<<<dim3(column_blocks, static_cast<unsigned>(chunks)), threads, 0, stream>>>(
            scratch, dy, x_values, inv_rms, rows, C);
    });
    CUDA_CHECK_LAUNCH("rmsnorm_backward_dw_partial_kernel");
    rmsnorm_backward_dw_sum_kernel<<<column_blocks, threads, 0, stream>>>(dw, scratch, chunks, C);
    CUDA_CHECK_LAUNCH("rmsnorm_backward_dw_sum_kernel");
}

}  // namespace ringlm::kernels
