// attention_merge: folds one block's partial attention into the running one (ring attention).
//   e = exp(min(lse, lse_b) - max(lse, lse_b));  lse' = max + log1p(e)
//   out = exp(lse - lse') out + exp(lse_b - lse') out_b,  the weights being 1/(1+e) and e/(1+e)
// One warp per (token, head) row: every lane reads the row's two lse values, lanes stride over D,
// lane 0 writes lse' once all lanes have read the old value.
#include "common.cuh"
#include "kernels.h"

namespace ringlm::kernels {

namespace {

constexpr int threads = 256;
constexpr int rows_per_block = threads / 32;

__global__ void attention_merge_kernel(float* out, float* lse, const float* out_block, const float* lse_block,
                                       int64_t rows, int64_t D) {
    const int64_t row = blockIdx.x * int64_t(rows_per_block) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float a = lse[row], b = lse_block[row];
    __syncwarp();
    float* o = out + row * D;
    const float* ob = out_block + row * D;
    // A side that saw no key is skipped outright: exact, and never 0 * (-inf) or NaN.
    if (b == -INFINITY) return;
    if (a == -INFINITY) {
        for (int64_t c = lane; c < D; c += 32) o[c] = ob[c];
        if (lane == 0) lse[row] = b;
        return;
    }
    // weights from e = exp(min - max) <= 1, not from the rounded lse' (see the CPU kernel)
    const float larger = fmaxf(a, b), smaller = fminf(a, b);
    const float e = expf(smaller - larger);
    const float larger_weight = 1.0f / (1.0f + e), smaller_weight = e * larger_weight;
    const float weight = a >= b ? larger_weight : smaller_weight;
    const float block_weight = a >= b ? smaller_weight : larger_weight;
    for (int64_t c = lane; c < D; c += 32) o[c] = weight * o[c] + block_weight * ob[c];
    if (lane == 0) lse[row] = larger + log1pf(e);
}

}  // namespace

void attention_merge(float* out, float* lse, const float* out_block, const float* lse_block, int64_t rows, int64_t D,
                     cudaStream_t stream) {
    if (rows == 0) return;
    const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
    attention_merge_kernel<<<static_cast<unsigned>(blocks), threads, 0, stream>>>(out, lse, out_block, lse_block, rows,
                                                                                   D);
    CUDA_CHECK_LAUNCH("attention_merge_kernel");
}

}  // namespace ringlm::kernels
