// Attention block forward, flash style: O(T) memory, exactly the CPU semantics
// (src/backend/backend.h): q [Tq, H, D], k, v [Tk, Hkv, D], query head h reads KV head
// h / (H / Hkv); out [Tq, H, D]; lse [Tq, H] in f32; a row that sees no key gets out = 0 and
// lse = -inf.
//
// One block per (64-query tile, head); it walks the key tiles, skipping those in which no key
// is visible to any of its queries, and keeps per row the running max m, the running sum
// l = sum exp(s - m) and the unnormalised output o (online softmax):
//   s_ij = scale q_i . k_j (visible pairs; -inf otherwise)
//   m' = max(m, max_j s_ij);  l' = l exp(m - m') + sum_j exp(s_ij - m');  o' = o exp(m - m') + sum_j exp(s_ij - m') v_j
//   out_i = o / l,  lse_i = m + log l
// f32 arithmetic on the CUDA cores (no tensor cores: TF32 would miss the 1e-5 agreement with
// the CPU reference); exp and log are the accurate expf / logf.
#include "attention_common.cuh"

namespace ringlm::kernels {

namespace {

__global__ void summarize_tiles_kernel(TileSummary* summaries, const int32_t* index, const int32_t* segment,
                                       int64_t T) {
    // One warp per tile: each lane takes every 32nd token of the tile.
    const int64_t tile = blockIdx.x;
    const int lane = threadIdx.x;
    int32_t min_index = INT_MAX, max_index = INT_MIN, min_segment = INT_MAX, max_segment = INT_MIN;
    for (int64_t t = tile * attention_tile + lane; t < T && t < (tile + 1) * attention_tile; t += 32) {
        min_index = min(min_index, index[t]);
        max_index = max(max_index, index[t]);
        min_segment = min(min_segment, segment[t]);
        max_segment = max(max_segment, segment[t]);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        min_index = min(min_index, __shfl_xor_sync(0xffffffffu, min_index, offset));
        max_index = max(max_index, __shfl_xor_sync(0xffffffffu, max_index, offset));
        min_segment = min(min_segment, __shfl_xor_sync(0xffffffffu, min_segment, offset));
        max_segment = max(max_segment, __shfl_xor_sync(0xffffffffu, max_segment, offset));
    }
    if (lane == 0) summaries[tile] = {min_index, max_index, min_segment, max_segment};
}

template <int max_head_dim> constexpr size_t forward_shared_bytes() {
    // q, k, v tiles (padded rows), the probability tile, key indices and segments
    return (3 * attention_tile * tile_stride<max_head_dim>() + attention_tile * (attention_tile + 1)) * sizeof(float) +
           2 * attention_tile * sizeof(int32_t);
}

template <int max_head_dim>
__global__ void __launch_bounds__(attention_threads)
    attention_forward_kernel(float* out, float* lse, const float* q, const float* k, const float* v, AttentionArgs args,
                             const TileSummary* q_summaries, const TileSummary* k_summaries) {
    constexpr int stride = tile_stride<max_head_dim>();
    constexpr int P = attention_per_thread;
    constexpr int column_groups = max_head_dim / attention_lanes;  // output columns per thread
    extern __shared__ float shared[];
    float* q_tile = shared;
    float* k_tile = q_tile + attention_tile * stride;
    float* v_tile = k_tile + attention_tile * stride;
    float* p_tile = v_tile + attention_tile * stride;  // [64][65]
    int32_t* key_index = reinterpret_cast<int32_t*>(p_tile + attention_tile * (attention_tile + 1));
    int32_t* key_segment = key_index + attention_tile;

    const int64_t D = args.D, H = args.H, Tq = args.Tq, Tk = args.Tk;
    const int64_t q_tile_number = blockIdx.x, head = blockIdx.y;
    const int64_t kv_head = head / (H / args.Hkv);
    const int64_t q_begin = q_tile_number * attention_tile;
    const int row_lane = threadIdx.x / attention_lanes, col_lane = threadIdx.x % attention_lanes;

    load_tile<max_head_dim>(q_tile, q, q_begin, Tq, H, head, D);
    int32_t row_index[P], row_segment[P];
    bool row_valid[P];
    float m[P], l[P], o[P][column_groups];
#pragma unroll
    for (int a = 0; a < P; a++) {
        const int64_t i = q_begin + row_lane + attention_lanes * a;
        row_valid[a] = i < Tq;
        row_index[a] = row_valid[a] ? args.q_index[i] : 0;
        row_segment[a] = row_valid[a] ? args.q_segment[i] : 0;
        m[a] = -INFINITY;
        l[a] = 0.0f;
#pragma unroll
        for (int c = 0; c < column_groups; c++) o[a][c] = 0.0f;
    }
    const TileSummary query_summary = q_summaries[q_tile_number];

    const int64_t k_tiles = (Tk + attention_tile - 1) / attention_tile;
    for (int64_t k_tile_number = 0; k_tile_number < k_tiles; k_tile_number++) {
        if (!tiles_may_interact(query_summary, k_summaries[k_tile_number], args.causal)) continue;  // uniform
        const int64_t k_begin = k_tile_number * attention_tile;
        __syncthreads();  // the previous tile's k, v, p are no longer read
        load_key_tile<max_head_dim>(k_tile, v_tile, key_index, key_segment, k, v, k_begin, kv_head, args);
        __syncthreads();

        // s = q . k for this thread's 4 x 4 (rows row_lane + 16a, keys col_lane + 16b)
        float s[P][P];
#pragma unroll
        for (int a = 0; a < P; a++)
#pragma unroll
            for (int b = 0; b < P; b++) s[a][b] = 0.0f;
        for (int64_t d = 0; d < D; d++) {
            float q_value[P], k_value[P];
#pragma unroll
            for (int a = 0; a < P; a++) q_value[a] = q_tile[(row_lane + attention_lanes * a) * stride + d];
#pragma unroll
            for (int b = 0; b < P; b++) k_value[b] = k_tile[(col_lane + attention_lanes * b) * stride + d];
#pragma unroll
            for (int a = 0; a < P; a++)
#pragma unroll
                for (int b = 0; b < P; b++) s[a][b] += q_value[a] * k_value[b];
        }

#pragma unroll
        for (int a = 0; a < P; a++) {
            float tile_max = -INFINITY;
#pragma unroll
            for (int b = 0; b < P; b++) {
                const int j = col_lane + attention_lanes * b;
                const bool seen = row_valid[a] && k_begin + j < Tk &&
                                  visible(row_index[a], row_segment[a], key_index[j], key_segment[j], args.causal);
                s[a][b] = seen ? args.scale * s[a][b] : -INFINITY;
                tile_max = fmaxf(tile_max, s[a][b]);
            }
            // the 16 threads of a row are 16 adjacent lanes of one warp
            for (int offset = attention_lanes / 2; offset > 0; offset /= 2)
                tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, offset));
            const float m_new = fmaxf(m[a], tile_max);
            // m_new = -inf: nothing visible to this row yet; p = 0 and o, l stay 0.
            const float rescale = m_new == -INFINITY ? 1.0f : expf(m[a] - m_new);
            float row_sum = 0.0f;
#pragma unroll
            for (int b = 0; b < P; b++) {
                const float p = m_new == -INFINITY ? 0.0f : expf(s[a][b] - m_new);
                row_sum += p;
                p_tile[(row_lane + attention_lanes * a) * (attention_tile + 1) + col_lane + attention_lanes * b] = p;
            }
            for (int offset = attention_lanes / 2; offset > 0; offset /= 2)
                row_sum += __shfl_xor_sync(0xffffffffu, row_sum, offset);
            l[a] = l[a] * rescale + row_sum;
            m[a] = m_new;
#pragma unroll
            for (int c = 0; c < column_groups; c++) o[a][c] *= rescale;
        }
        __syncthreads();

        // o += p v for rows row_lane + 16a, columns col_lane + 16c
        for (int j = 0; j < attention_tile; j++) {
            float p_value[P];
#pragma unroll
            for (int a = 0; a < P; a++) p_value[a] = p_tile[(row_lane + attention_lanes * a) * (attention_tile + 1) + j];
#pragma unroll
            for (int c = 0; c < column_groups; c++) {
                const float v_value = v_tile[j * stride + col_lane + attention_lanes * c];
#pragma unroll
                for (int a = 0; a < P; a++) o[a][c] += p_value[a] * v_value;
            }
        }
    }

#pragma unroll
    for (int a = 0; a < P; a++) {
        if (!row_valid[a]) continue;
        const int64_t i = q_begin + row_lane + attention_lanes * a;
        const bool sees_nothing = l[a] == 0.0f;
        const float inverse_sum = sees_nothing ? 0.0f : 1.0f / l[a];
#pragma unroll
        for (int c = 0; c < column_groups; c++) {
            const int64_t d = col_lane + attention_lanes * c;
            if (d < D) out[(i * H + head) * D + d] = o[a][c] * inverse_sum;
        }
        if (col_lane == 0) lse[i * H + head] = sees_nothing ? -INFINITY : m[a] + logf(l[a]);
    }
}

template <int max_head_dim>
void launch_forward(float* out, float* lse, const float* q, const float* k, const float* v, const AttentionArgs& args,
                    const TileSummary* q_summaries, const TileSummary* k_summaries, cudaStream_t stream) {
    constexpr size_t shared_bytes = forward_shared_bytes<max_head_dim>();
    CUDA_CHECK(cudaFuncSetAttribute(attention_forward_kernel<max_head_dim>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared_bytes)));
    const dim3 grid(static_cast<unsigned>(attention_tiles(args.Tq)), static_cast<unsigned>(args.H));
    attention_forward_kernel<max_head_dim>
        <<<grid, attention_threads, shared_bytes, stream>>>(out, lse, q, k, v, args, q_summaries, k_summaries);
    CUDA_CHECK_LAUNCH("attention_forward_kernel");
}

}  // namespace

void summarize_tiles(TileSummary* summaries, const int32_t* index, const int32_t* segment, int64_t T,
                     cudaStream_t stream) {
    if (T == 0) return;
    summarize_tiles_kernel<<<static_cast<unsigned>(attention_tiles(T)), 32, 0, stream>>>(summaries, index, segment, T);
    CUDA_CHECK_LAUNCH("summarize_tiles_kernel");
}

int64_t attention_scratch_bytes(const AttentionArgs& args, bool backward) {
    const int64_t summaries = (attention_tiles(args.Tq) + attention_tiles(args.Tk)) * int64_t(sizeof(TileSummary));
    return summaries + (backward ? args.Tq * args.H * int64_t(sizeof(float)) : 0);
}

void attention_block_forward(float* out, float* lse, const void* q, const void* k, const void* v,
                             const AttentionArgs& args, AttentionCores cores, void* scratch, cudaStream_t stream) {
    if (args.Tq == 0 || args.H == 0) return;
    auto* q_summaries = static_cast<TileSummary*>(scratch);
    auto* k_summaries = q_summaries + attention_tiles(args.Tq);
    summarize_tiles(q_summaries, args.q_index, args.q_segment, args.Tq, stream);
    summarize_tiles(k_summaries, args.k_index, args.k_segment, args.Tk, stream);
    if (cores == AttentionCores::tensor_bf16) {
        tensor_core_attention_forward(out, lse, q, k, v, args, q_summaries, k_summaries, stream);
    } else if (args.D <= 64) {
        launch_forward<64>(out, lse, static_cast<const float*>(q), static_cast<const float*>(k),
                           static_cast<const float*>(v), args, q_summaries, k_summaries, stream);
    } else {
        launch_forward<128>(out, lse, static_cast<const float*>(q), static_cast<const float*>(k),
                            static_cast<const float*>(v), args, q_summaries, k_summaries, stream);
    }
}

}  // namespace ringlm::kernels
