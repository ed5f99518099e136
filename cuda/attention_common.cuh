// What the attention block's forward (attention_block.cu) and backward
// (attention_block_backward.cu) share: the tile sizes, the visibility rule, and the per-tile
// summaries that let a block skip a (query tile, key tile) pair in which no key is visible.
//
// Visibility (src/backend/backend.h): key j is visible to query i iff
//   q_segment[i] == k_segment[j]  and  (!causal or k_index[j] <= q_index[i]).
// Indices are global token positions, in any order (contiguous, zigzag and striped chunks).
#pragma once

#include "backend/attention_tiles.h"
#include "common.cuh"
#include "kernels.h"

#include <climits>

namespace ringlm::kernels {

// Every attention kernel works on 64 x 64 tiles with 256 threads as a 16 x 16 grid: thread
// (row_lane, col_lane) holds tile rows row_lane + 16a and columns col_lane + 16b, a, b < 4.
constexpr int attention_tile = 64;
constexpr int attention_threads = 256;
constexpr int attention_lanes = 16;
constexpr int attention_per_thread = attention_tile / attention_lanes;  // 4

// Summary of one tile of tokens: its global index and segment ranges, which
// tiles_may_interact (backend/attention_tiles.h, the CPU kernel's rule too) compares.
using TileSummary = TokenRanges;

__device__ inline bool visible(int32_t q_index, int32_t q_segment, int32_t k_index, int32_t k_segment, bool causal) {
    return q_segment == k_segment && (!causal || k_index <= q_index);
}

// Row stride of a [64][D] tile in shared memory: one padding float, so 16 threads reading
// 16 different rows at the same column hit 16 different banks.
template <int max_head_dim> __host__ __device__ constexpr int tile_stride() { return max_head_dim + 1; }

// Load rows [begin, begin + 64) of one head of a [T, heads, D] tensor into a shared tile
// (stride tile_stride), zero past T so that 0 * (a zero row) never makes a NaN.
template <int max_head_dim>
__device__ inline void load_tile(float* tile, const float* x, int64_t begin, int64_t T, int64_t heads, int64_t head,
                                 int64_t D) {
    for (int64_t e = threadIdx.x; e < attention_tile * D; e += blockDim.x) {
        const int64_t r = e / D, d = e % D, t = begin + r;
        tile[r * tile_stride<max_head_dim>() + d] = t < T ? x[(t * heads + head) * D + d] : 0.0f;
    }
}

// The global indices and segments of tokens [begin, begin + 64) (0 past T: callers test
// begin + j < T), into shared memory.
__device__ inline void load_positions(int32_t* index, int32_t* segment, const int32_t* all_index,
                                      const int32_t* all_segment, int64_t begin, int64_t T) {
    for (int j = threadIdx.x; j < attention_tile; j += blockDim.x) {
        const bool valid = begin + j < T;
        index[j] = valid ? all_index[begin + j] : 0;
        segment[j] = valid ? all_segment[begin + j] : 0;
    }
}

// Load key tile [k_begin, k_begin + 64) of KV head kv_head: its k and v rows (load_tile) and
// the keys' global indices and segments (load_positions).
// The forward and the dq kernel each walk the key tiles this way.
template <int max_head_dim>
__device__ inline void load_key_tile(float* k_tile, float* v_tile, int32_t* key_index, int32_t* key_segment,
                                     const float* k, const float* v, int64_t k_begin, int64_t kv_head,
                                     const AttentionArgs& args) {
    load_tile<max_head_dim>(k_tile, k, k_begin, args.Tk, args.Hkv, kv_head, args.D);
    load_tile<max_head_dim>(v_tile, v, k_begin, args.Tk, args.Hkv, kv_head, args.D);
    load_positions(key_index, key_segment, args.k_index, args.k_segment, k_begin, args.Tk);
}

// Tiles of 64 tokens covering T.
__host__ __device__ inline int64_t attention_tiles(int64_t T) { return (T + attention_tile - 1) / attention_tile; }

// Launch helpers (attention_block.cu).
// summaries[tile] for the tiles of one side (T tokens).
void summarize_tiles(TileSummary* summaries, const int32_t* index, const int32_t* segment, int64_t T,
                     cudaStream_t stream);

// The tensor-core kernels (attention_tensor_core.cu), given the tile summaries (and, backward,
// delta) that attention_block_forward / _backward prepare for either kernel.
// q, k, v of args.operands' type (f32 or bf16).
void tensor_core_attention_forward(float* out, float* lse, const void* q, const void* k, const void* v,
                                   const AttentionArgs& args, const TileSummary* q_summaries,
                                   const TileSummary* k_summaries, cudaStream_t stream);
void tensor_core_attention_backward(float* dq, float* dk, float* dv, const float* dout, const void* q, const void* k,
                                    const void* v, const float* lse, const float* delta, const AttentionArgs& args,
                                    const TileSummary* q_summaries, const TileSummary* k_summaries,
                                    cudaStream_t stream);

}  // namespace ringlm::kernels
