// Attention block backward (src/backend/backend.h). With P_ij = exp(scale q_i.k_j - lse_i) on
// visible pairs (0 elsewhere, and in a row at lse = -inf, as on the CPU) and delta_i = sum(dout_i * out_i):
//   dv_j += sum_i P_ij dout_i;   dS_ij = P_ij (dout_i . v_j - delta_i)
//   dq_i += scale sum_j dS_ij k_j;   dk_j += scale sum_i dS_ij q_i
// out and lse are the FINAL ones (after merging ring blocks). Gradients ACCUMULATE.
//
// Two kernels, so every gradient element has exactly one writer (no atomics, the same bits
// every run): one block per (key tile, KV head) owns dk and dv of those keys and walks every
// query tile of every query head of its GQA group; one block per (query tile, head) owns dq
// and walks the key tiles. Each recomputes P (the price of determinism: 5 instead of 4 of
// the forward's matrix products).
#include "attention_common.cuh"

namespace ringlm::kernels {

namespace {

// delta[i, h] = sum_d dout[i, h, d] * out[i, h, d]; one warp per (i, h). out f32 or bf16.
template <typename Element>
__global__ void attention_delta_kernel(float* delta, const float* dout, const Element* out, int64_t rows, int64_t D) {
    const int64_t row = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    float acc = 0.0f;
    for (int64_t d = lane; d < D; d += 32) acc += dout[row * D + d] * to_float(out[row * D + d]);
    acc = warp_sum(acc);
    if (lane == 0) delta[row] = acc;
}

template <int max_head_dim> constexpr size_t dkdv_shared_bytes() {
    // k, v, q, dout tiles (padded rows), P^T and dS^T tiles, query index, segment, lse, delta
    return (4 * attention_tile * tile_stride<max_head_dim>() + 2 * attention_tile * (attention_tile + 1)) *
               sizeof(float) +
           4 * attention_tile * sizeof(float);
}

template <int max_head_dim>
__global__ void __launch_bounds__(attention_threads)
    attention_dkdv_kernel(float* dk, float* dv, const float* dout, const float* q, const float* k, const float* v,
                          const float* lse, const float* delta, AttentionArgs args, const TileSummary* q_summaries,
                          const TileSummary* k_summaries) {
    constexpr int stride = tile_stride<max_head_dim>();
    constexpr int P = attention_per_thread;
    constexpr int column_groups = max_head_dim / attention_lanes;
    extern __shared__ float shared[];
    float* k_tile = shared;
    float* v_tile = k_tile + attention_tile * stride;
    float* q_tile = v_tile + attention_tile * stride;
    float* dout_tile = q_tile + attention_tile * stride;
    float* pt_tile = dout_tile + attention_tile * stride;               // P^T  [64 keys][65]
    float* dst_tile = pt_tile + attention_tile * (attention_tile + 1);  // dS^T [64 keys][65]
    int32_t* query_index = reinterpret_cast<int32_t*>(dst_tile + attention_tile * (attention_tile + 1));
    int32_t* query_segment = query_index + attention_tile;
    float* query_lse = reinterpret_cast<float*>(query_segment + attention_tile);
    float* query_delta = query_lse + attention_tile;

    const int64_t D = args.D, H = args.H, Hkv = args.Hkv, Tq = args.Tq, Tk = args.Tk;
    const int64_t group = H / Hkv;
    const int64_t k_tile_number = blockIdx.x, kv_head = blockIdx.y;
    const int64_t k_begin = k_tile_number * attention_tile;
    // thread (key_lane, query_lane): keys key_lane + 16a; queries (phase 1) or columns (phase 2) query_lane + 16b
    const int key_lane = threadIdx.x / attention_lanes, query_lane = threadIdx.x % attention_lanes;

    load_tile<max_head_dim>(k_tile, k, k_begin, Tk, Hkv, kv_head, D);
    load_tile<max_head_dim>(v_tile, v, k_begin, Tk, Hkv, kv_head, D);
    int32_t key_index[P], key_segment[P];
    bool key_valid[P];
    float dk_acc[P][column_groups], dv_acc[P][column_groups];
#pragma unroll
    for (int a = 0; a < P; a++) {
        const int64_t j = k_begin + key_lane + attention_lanes * a;
        key_valid[a] = j < Tk;
        key_index[a] = key_valid[a] ? args.k_index[j] : 0;
        key_segment[a] = key_valid[a] ? args.k_segment[j] : 0;
#pragma unroll
        for (int c = 0; c < column_groups; c++) dk_acc[a][c] = dv_acc[a][c] = 0.0f;
    }
    const TileSummary key_summary = k_summaries[k_tile_number];
    const int64_t q_tiles = (Tq + attention_tile - 1) / attention_tile;

    for (int64_t head = kv_head * group; head < (kv_head + 1) * group; head++) {
        for (int64_t q_tile_number = 0; q_tile_number < q_tiles; q_tile_number++) {
            if (!tiles_may_interact(q_summaries[q_tile_number], key_summary, args.causal)) continue;  // uniform
            const int64_t q_begin = q_tile_number * attention_tile;
            __syncthreads();  // the previous query tile is no longer read
            load_tile<max_head_dim>(q_tile, q, q_begin, Tq, H, head, D);
            load_tile<max_head_dim>(dout_tile, dout, q_begin, Tq, H, head, D);
            for (int r = threadIdx.x; r < attention_tile; r += blockDim.x) {
                const int64_t i = q_begin + r;
                const bool valid = i < Tq;
                query_index[r] = valid ? args.q_index[i] : 0;
                query_segment[r] = valid ? args.q_segment[i] : 0;
                query_lse[r] = valid ? lse[i * H + head] : 0.0f;
                query_delta[r] = valid ? delta[i * H + head] : 0.0f;
            }
            __syncthreads();

            // s = k_j . q_i and dp = v_j . dout_i for keys key_lane + 16a, queries query_lane + 16b
            float s[P][P], dp[P][P];
#pragma unroll
            for (int a = 0; a < P; a++)
#pragma unroll
                for (int b = 0; b < P; b++) s[a][b] = dp[a][b] = 0.0f;
            for (int64_t d = 0; d < D; d++) {
                float k_value[P], v_value[P], q_value[P], dout_value[P];
#pragma unroll
                for (int a = 0; a < P; a++) {
                    k_value[a] = k_tile[(key_lane + attention_lanes * a) * stride + d];
                    v_value[a] = v_tile[(key_lane + attention_lanes * a) * stride + d];
                }
#pragma unroll
                for (int b = 0; b < P; b++) {
                    q_value[b] = q_tile[(query_lane + attention_lanes * b) * stride + d];
                    dout_value[b] = dout_tile[(query_lane + attention_lanes * b) * stride + d];
                }
#pragma unroll
                for (int a = 0; a < P; a++)
#pragma unroll
                    for (int b = 0; b < P; b++) {
                        s[a][b] += k_value[a] * q_value[b];
                        dp[a][b] += v_value[a] * dout_value[b];
                    }
            }
#pragma unroll
            for (int a = 0; a < P; a++)
#pragma unroll
                for (int b = 0; b < P; b++) {
                    const int r = query_lane + attention_lanes * b;
                    // a row at lse = -inf saw no key in any block: P = 0 (as on the CPU), never exp(+inf)
                    const bool seen = key_valid[a] && q_begin + r < Tq && query_lse[r] != -INFINITY &&
                                      visible(query_index[r], query_segment[r], key_index[a], key_segment[a], args.causal);
                    const float p = seen ? expf(args.scale * s[a][b] - query_lse[r]) : 0.0f;
                    const int at = (key_lane + attention_lanes * a) * (attention_tile + 1) + r;
                    pt_tile[at] = p;
                    dst_tile[at] = p * (dp[a][b] - query_delta[r]);
                }
            __syncthreads();

            // dv_j += sum_i P_ij dout_i;  dk_j += sum_i dS_ij q_i   (scale applied once at the end)
            for (int r = 0; r < attention_tile; r++) {
                float p_value[P], ds_value[P];
#pragma unroll
                for (int a = 0; a < P; a++) {
                    p_value[a] = pt_tile[(key_lane + attention_lanes * a) * (attention_tile + 1) + r];
                    ds_value[a] = dst_tile[(key_lane + attention_lanes * a) * (attention_tile + 1) + r];
                }
#pragma unroll
                for (int c = 0; c < column_groups; c++) {
                    const float dout_value = dout_tile[r * stride + query_lane + attention_lanes * c];
                    const float q_value = q_tile[r * stride + query_lane + attention_lanes * c];
#pragma unroll
                    for (int a = 0; a < P; a++) {
                        dv_acc[a][c] += p_value[a] * dout_value;
                        dk_acc[a][c] += ds_value[a] * q_value;
                    }
                }
            }
        }
    }

#pragma unroll
    for (int a = 0; a < P; a++) {
        if (!key_valid[a]) continue;
        const int64_t j = k_begin + key_lane + attention_lanes * a;
#pragma unroll
        for (int c = 0; c < column_groups; c++) {
            const int64_t d = query_lane + attention_lanes * c;
            if (d >= D) continue;
            dk[(j * Hkv + kv_head) * D + d] += args.scale * dk_acc[a][c];
            dv[(j * Hkv + kv_head) * D + d] += dv_acc[a][c];
        }
    }
}

template <int max_head_dim> constexpr size_t dq_shared_bytes() {
    // q, dout, k, v tiles (padded rows), the dS tile, key indices and segments
    return (4 * attention_tile * tile_stride<max_head_dim>() + attention_tile * (attention_tile + 1)) * sizeof(float) +
           2 * attention_tile * sizeof(int32_t);
}

template <int max_head_dim>
__global__ void __launch_bounds__(attention_threads)
    attention_dq_kernel(float* dq, const float* dout, const float* q, const float* k, const float* v, const float* lse,
                        const float* delta, AttentionArgs args, const TileSummary* q_summaries,
                        const TileSummary* k_summaries) {
    constexpr int stride = tile_stride<max_head_dim>();
    constexpr int P = attention_per_thread;
    constexpr int column_groups = max_head_dim / attention_lanes;
    extern __shared__ float shared[];
    float* q_tile = shared;
    float* dout_tile = q_tile + attention_tile * stride;
    float* k_tile = dout_tile + attention_tile * stride;
    float* v_tile = k_tile + attention_tile * stride;
    float* ds_tile = v_tile + attention_tile * stride;  // [64 queries][65]
    int32_t* key_index = reinterpret_cast<int32_t*>(ds_tile + attention_tile * (attention_tile + 1));
    int32_t* key_segment = key_index + attention_tile;

    const int64_t D = args.D, H = args.H, Tq = args.Tq, Tk = args.Tk;
    const int64_t q_tile_number = blockIdx.x, head = blockIdx.y;
    const int64_t kv_head = head / (H / args.Hkv);
    const int64_t q_begin = q_tile_number * attention_tile;
    const int row_lane = threadIdx.x / attention_lanes, col_lane = threadIdx.x % attention_lanes;

    load_tile<max_head_dim>(q_tile, q, q_begin, Tq, H, head, D);
    load_tile<max_head_dim>(dout_tile, dout, q_begin, Tq, H, head, D);
    int32_t row_index[P], row_segment[P];
    bool row_valid[P];
    float row_lse[P], row_delta[P], dq_acc[P][column_groups];
#pragma unroll
    for (int a = 0; a < P; a++) {
        const int64_t i = q_begin + row_lane + attention_lanes * a;
        row_valid[a] = i < Tq;
        row_index[a] = row_valid[a] ? args.q_index[i] : 0;
        row_segment[a] = row_valid[a] ? args.q_segment[i] : 0;
        row_lse[a] = row_valid[a] ? lse[i * H + head] : 0.0f;
        row_delta[a] = row_valid[a] ? delta[i * H + head] : 0.0f;
#pragma unroll
        for (int c = 0; c < column_groups; c++) dq_acc[a][c] = 0.0f;
    }
    const TileSummary query_summary = q_summaries[q_tile_number];
    const int64_t k_tiles = (Tk + attention_tile - 1) / attention_tile;

    for (int64_t k_tile_number = 0; k_tile_number < k_tiles; k_tile_number++) {
        if (!tiles_may_interact(query_summary, k_summaries[k_tile_number], args.causal)) continue;  // uniform
        const int64_t k_begin = k_tile_number * attention_tile;
        __syncthreads();  // the previous key tile is no longer read
        load_key_tile<max_head_dim>(k_tile, v_tile, key_index, key_segment, k, v, k_begin, kv_head, args);
        __syncthreads();

        // s = q_i . k_j and dp = dout_i . v_j for rows row_lane + 16a, keys col_lane + 16b
        float s[P][P], dp[P][P];
#pragma unroll
        for (int a = 0; a < P; a++)
#pragma unroll
            for (int b = 0; b < P; b++) s[a][b] = dp[a][b] = 0.0f;
        for (int64_t d = 0; d < D; d++) {
            float q_value[P], dout_value[P], k_value[P], v_value[P];
#pragma unroll
            for (int a = 0; a < P; a++) {
                q_value[a] = q_tile[(row_lane + attention_lanes * a) * stride + d];
                dout_value[a] = dout_tile[(row_lane + attention_lanes * a) * stride + d];
            }
#pragma unroll
            for (int b = 0; b < P; b++) {
                k_value[b] = k_tile[(col_lane + attention_lanes * b) * stride + d];
                v_value[b] = v_tile[(col_lane + attention_lanes * b) * stride + d];
            }
#pragma unroll
            for (int a = 0; a < P; a++)
#pragma unroll
                for (int b = 0; b < P; b++) {
                    s[a][b] += q_value[a] * k_value[b];
                    dp[a][b] += dout_value[a] * v_value[b];
                }
        }
#pragma unroll
        for (int a = 0; a < P; a++)
#pragma unroll
            for (int b = 0; b < P; b++) {
                const int j = col_lane + attention_lanes * b;
                // a row at lse = -inf saw no key in any block: P = 0 (as on the CPU), never exp(+inf)
                const bool seen = row_valid[a] && k_begin + j < Tk && row_lse[a] != -INFINITY &&
                                  visible(row_index[a], row_segment[a], key_index[j], key_segment[j], args.causal);
                const float p = seen ? expf(args.scale * s[a][b] - row_lse[a]) : 0.0f;
                ds_tile[(row_lane + attention_lanes * a) * (attention_tile + 1) + j] = p * (dp[a][b] - row_delta[a]);
            }
        __syncthreads();

        // dq_i += sum_j dS_ij k_j   (scale applied once at the end)
        for (int j = 0; j < attention_tile; j++) {
            float ds_value[P];
#pragma unroll
            for (int a = 0; a < P; a++) ds_value[a] = ds_tile[(row_lane + attention_lanes * a) * (attention_tile + 1) + j];
#pragma unroll
            for (int c = 0; c < column_groups; c++) {
                const float k_value = k_tile[j * stride + col_lane + attention_lanes * c];
#pragma unroll
                for (int a = 0; a < P; a++) dq_acc[a][c] += ds_value[a] * k_value;
            }
        }
    }

#pragma unroll
    for (int a = 0; a < P; a++) {
        if (!row_valid[a]) continue;
        const int64_t i = q_begin + row_lane + attention_lanes * a;
#pragma unroll
        for (int c = 0; c < column_groups; c++) {
            const int64_t d = col_lane + attention_lanes * c;
            if (d < D) dq[(i * H + head) * D + d] += args.scale * dq_acc[a][c];
        }
    }
}

template <int max_head_dim>
void launch_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                     const float* v, const float* lse, const float* delta, const AttentionArgs& args,
                     const TileSummary* q_summaries, const TileSummary* k_summaries, cudaStream_t stream) {
    if (args.Tk > 0) {
        constexpr size_t shared_bytes = dkdv_shared_bytes<max_head_dim>();
        CUDA_CHECK(cudaFuncSetAttribute(attention_dkdv_kernel<max_head_dim>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared_bytes)));
        const dim3 grid(static_cast<unsigned>(attention_tiles(args.Tk)), static_cast<unsigned>(args.Hkv));
        attention_dkdv_kernel<max_head_dim><<<grid, attention_threads, shared_bytes, stream>>>(
            dk, dv, dout, q, k, v, lse, delta, args, q_summaries, k_summaries);
        CUDA_CHECK_LAUNCH("attention_dkdv_kernel");
    }
    constexpr size_t shared_bytes = dq_shared_bytes<max_head_dim>();
    CUDA_CHECK(cudaFuncSetAttribute(attention_dq_kernel<max_head_dim>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(shared_bytes)));
    const dim3 grid(static_cast<unsigned>(attention_tiles(args.Tq)), static_cast<unsigned>(args.H));
    attention_dq_kernel<max_head_dim>
        <<<grid, attention_threads, shared_bytes, stream>>>(dq, dout, q, k, v, lse, delta, args, q_summaries, k_summaries);
    CUDA_CHECK_LAUNCH("attention_dq_kernel");
}

}  // namespace

void attention_block_backward(float* dq, float* dk, float* dv, const float* dout, const void* q, const void* k,
                              const void* v, const void* out, const float* lse, const AttentionArgs& args,
                              AttentionCores cores, void* scratch, cudaStream_t stream) {
    if (args.Tq == 0 || args.Tk == 0 || args.H == 0) return;  // no pair: every gradient adds 0
    auto* q_summaries = static_cast<TileSummary*>(scratch);
    auto* k_summaries = q_summaries + attention_tiles(args.Tq);
    auto* delta = reinterpret_cast<float*>(k_summaries + attention_tiles(args.Tk));
    summarize_tiles(q_summaries, args.q_index, args.q_segment, args.Tq, stream);
    summarize_tiles(k_summaries, args.k_index, args.k_segment, args.Tk, stream);
    const int64_t rows = args.Tq * args.H;
    with_element_type(args.operands, [&](auto element) {
        using Element = decltype(element);
        attention_delta_kernel<<<static_cast<unsigned>((rows * 32 + 255) / 256), 256, 0, stream>>>(
            delta, dout, static_cast<const Element*>(out), rows, args.D);
    });
    CUDA_CHECK_LAUNCH("attention_delta_kernel");
    if (cores == AttentionCores::tensor_bf16) {
        tensor_core_attention_backward(dq, dk, dv, dout, q, k, v, lse, delta, args, q_summaries, k_summaries, stream);
    } else if (args.D <= 64) {
        launch_backward<64>(dq, dk, dv, dout, static_cast<const float*>(q), static_cast<const float*>(k),
                            static_cast<const float*>(v), lse, delta, args, q_summaries, k_summaries, stream);
    } else {
        launch_backward<128>(dq, dk, dv, dout, static_cast<const float*>(q), static_cast<const float*>(k),
                             static_cast<const float*>(v), lse, delta, args, q_summaries, k_summaries, stream);
    }
}

}  // namespace ringlm::kernels
