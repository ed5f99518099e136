// Elementwise kernels and the two reductions (sum, dot). Reductions accumulate in double and
// combine in a fixed order (a fixed grid, then one block), so they give the same bits every
// run and do not drift with the tensor's length.
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;

#define GRID_STRIDE_LOOP(i, n) \
    for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// A, B, Out: float or __nv_bfloat16 (a bf16 block output added to the f32 residual stream)
template <typename Out, typename A, typename B>
__global__ void add_kernel(Out* out, const A* a, const B* b, int64_t n) {
    GRID_STRIDE_LOOP(i, n) out[i] = from_float<Out>(to_float(a[i]) + to_float(b[i]));
}

__global__ void mul_kernel(float* out, const float* a, const float* b, int64_t n) {
    GRID_STRIDE_LOOP(i, n) out[i] = a[i] * b[i];
}

__global__ void axpy_kernel(float* y, const float* x, float alpha, int64_t n) {
    GRID_STRIDE_LOOP(i, n) y[i] += alpha * x[i];
}

__global__ void scale_kernel(float* x, float alpha, int64_t n) {
    GRID_STRIDE_LOOP(i, n) x[i] *= alpha;
}

__global__ void add_scalar_kernel(float* y, const float* s, int64_t n) {
    const float value = *s;
    GRID_STRIDE_LOOP(i, n) y[i] += value;
}

template <typename Y> __global__ void add_bias_kernel(Y* y, const float* b, int64_t rows, int64_t C) {
    GRID_STRIDE_LOOP(i, rows * C) y[i] = from_float<Y>(to_float(y[i]) + b[i % C]);
}

// One thread per column (adjacent threads read adjacent columns of a row: coalesced); each
// sums its column in row order, so the result does not depend on the launch.
__global__ void sum_rows_kernel(float* db, const float* dy, int64_t rows, int64_t C) {
    const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
    if (c >= C) return;
    float acc = 0;
    for (int64_t r = 0; r < rows; r++) acc += dy[r * C + c];
    db[c] += acc;
}

// Pass 1: block `blockIdx.x` of exactly reduction_blocks reduces elements i = blockIdx.x *
// threads + thread + k * reduction_blocks * threads; partials[blockIdx.x] = its sum.
__global__ void sum_product_partial_kernel(double* partials, const float* a, const float* b, int64_t n) {
    __shared__ double shared[32];
    double acc = 0;
    GRID_STRIDE_LOOP(i, n) acc += b ? double(a[i]) * double(b[i]) : double(a[i]);
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

// Pass 2: one block adds the reduction_blocks partials; result in partials[reduction_blocks].
__global__ void sum_partials_kernel(double* partials) {
    __shared__ double shared[32];
    double acc = 0;
    for (int i = threadIdx.x; i < reduction_blocks; i += blockDim.x) acc += partials[i];
    acc = block_sum(acc, shared);
    if (threadIdx.x == 0) partials[reduction_blocks] = acc;
}

}  // namespace

void add(ActivationOut out, ActivationIn a, ActivationIn b, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    with_element_type(out.dtype, [&](auto out_type) {
        with_element_type(a.dtype, [&](auto a_type) {
            with_element_type(b.dtype, [&](auto b_type) {
                using Out = decltype(out_type);
                using A = decltype(a_type);
                using B = decltype(b_type);
                add_kernel<<<grid_for(n, threads), threads, 0, stream>>>(
                    static_cast<Out*>(out.data), static_cast<const A*>(a.data), static_cast<const B*>(b.data), n);
            });
        });
    });
    CUDA_CHECK_LAUNCH("add_kernel");
}

void add_bias(ActivationOut y, const float* b, int64_t rows, int64_t C, cudaStream_t stream) {
    if (rows * C == 0) return;
    with_element_type(y.dtype, [&](auto y_type) {
        using Y = decltype(y_type);
        add_bias_kernel<<<grid_for(rows * C, threads), threads, 0, stream>>>(static_cast<Y*>(y.data), b, rows, C);
    });
    CUDA_CHECK_LAUNCH("add_bias_kernel");
}

void sum_rows(float* db, const float* dy, int64_t rows, int64_t C, cudaStream_t stream) {
    if (C == 0) return;
    const unsigned blocks = static_cast<unsigned>((C + threads - 1) / threads);
    sum_rows_kernel<<<blocks, threads, 0, stream>>>(db, dy, rows, C);
    CUDA_CHECK_LAUNCH("sum_rows_kernel");
}

void mul(float* out, const float* a, const float* b, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    mul_kernel<<<grid_for(n, threads), threads, 0, stream>>>(out, a, b, n);
    CUDA_CHECK_LAUNCH("mul_kernel");
}

void axpy(float* y, const float* x, float alpha, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    axpy_kernel<<<grid_for(n, threads), threads, 0, stream>>>(y, x, alpha, n);
    CUDA_CHECK_LAUNCH("axpy_kernel");
}

void add_scalar(float* y, const float* s, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    add_scalar_kernel<<<grid_for(n, threads), threads, 0, stream>>>(y, s, n);
    CUDA_CHECK_LAUNCH("add_scalar_kernel");
}

void scale(float* x, float alpha, int64_t n, cudaStream_t stream) {
    if (n == 0) return;
    scale_kernel<<<grid_for(n, threads), threads, 0, stream>>>(x, alpha, n);
    CUDA_CHECK_LAUNCH("scale_kernel");
}

void sum_product_on_device(const float* a, const float* b, int64_t n, double* scratch, cudaStream_t stream) {
    // n = 0 too: every partial is then 0, so scratch[reduction_blocks] = 0
    sum_product_partial_kernel<<<reduction_blocks, threads, 0, stream>>>(scratch, a, b, n);
    CUDA_CHECK_LAUNCH("sum_product_partial_kernel");
    sum_partials_kernel<<<1, threads, 0, stream>>>(scratch);
    CUDA_CHECK_LAUNCH("sum_partials_kernel");
}

double sum_product(const float* a, const float* b, int64_t n, double* scratch, cudaStream_t stream) {
    if (n == 0) return 0.0;
    sum_product_on_device(a, b, n, scratch, stream);
    double result = 0;
    CUDA_CHECK(cudaMemcpyAsync(&result, scratch + reduction_blocks, sizeof(double), cudaMemcpyDeviceToHost, stream));
    wait_for_stream(stream);
    return result;
}

}  // namespace ringlm::kernels
