// Attention block on the tensor cores: the same contract and mask semantics as the tiled f32
// kernels (attention_block.cu, attention_block_backward.cu; formulas in src/backend/backend.h),
// with every matrix product as bf16 mma.sync (m16n8k16, f32 accumulation, sm_80 and later).
// q, k, v are f32 or bf16 in global memory (bf16 activations hand them over as they are, no
// widened copy), dout is f32; each is rounded to bf16 (exact for bf16) as it is loaded into
// shared tiles; so are P and dS before their products. The softmax statistics (m, l, lse), delta and
// every accumulator stay f32. Accuracy is bf16's, about 1e-2 relative, like cuDNN's path.
//
// Work split as in the tiled kernels (64-token tiles, whole tile pairs skipped by
// tiles_may_interact, every output element written by one thread: the same bits every run):
//   forward:  one block per (64-query tile, head); warp w owns query rows 16w..16w+15
//   dk, dv:   one block per (64-key tile, KV head); warp w owns key rows 16w..16w+15, and the
//             block walks every query tile of every query head of its GQA group
//   dq:       one block per (64-query tile, head); warp w owns query rows 16w..16w+15
// Head dims up to 64 run with 64-wide tiles, up to 128 with 128-wide ones; columns past D are
// zero in the tiles and never written out. Shared memory per block at width 128: forward 53 KB,
// dk/dv 105 KB, dq 87 KB (sm_80 and sm_90 allow 163 and 227 KB; sm_86 and sm_89 allow 99 KB, so
// there a head dim over 64 fails its launch). At width 128 each warp of the dk/dv kernel holds two
// 16 x 128 f32 accumulators (dk, dv): 254 registers a thread, no spill (nvcc 13, sm_90, -Xptxas -v).
//
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16" with .bf16), lane = 4 g + t:
//   A 16x16 (row):  a[0] = A[g][2t, 2t+1],  a[1] = A[g+8][2t, 2t+1],
//                   a[2] = A[g][2t+8, 2t+9], a[3] = A[g+8][2t+8, 2t+9]
//   B 16x8 (col):   b[0] = B[2t, 2t+1][g],  b[1] = B[2t+8, 2t+9][g]
//   C/D 16x8 f32:   d[0], d[1] = D[g][2t], D[g][2t+1];  d[2], d[3] = D[g+8][2t], D[g+8][2t+1]
// (each 32-bit register holds two bf16, the lower index in the low half). Two D fragments of
// a 16 x 64 score tile, n-tiles 2c and 2c+1, hold exactly the A fragment of its columns
// [16c, 16c+16) in the same threads (a_from_scores), so P and dS never leave the registers.
// Every B operand is read from a tile stored with its n index as the row (b[i] is then one
// 32-bit load): K and V row-major for the score products, K, V, Q, dout transposed ([d][token])
// for the products that sum over tokens.
#include "attention_common.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace ringlm::kernels {

namespace {

constexpr int warps = attention_tile / 16;  // 4 warps of 16 rows make a 64-row tile
constexpr int threads = 32 * warps;
constexpr int score_tiles = attention_tile / 8;  // n-tiles of 8 columns in a 16 x 64 score tile

// Row stride, in bf16, of a shared tile `columns` wide: 8 more (16 bytes), so the 8 rows one
// fragment load reads start 4 banks apart and the 32 lanes hit 32 banks.
template <int columns> __host__ __device__ constexpr int stride() { return columns + 8; }

// D += A B for one warp (layouts above). bf16 mma exists from sm_80 on; a build for an older
// architecture traps here, and CudaBackend refuses `tensor` on such a GPU before any launch.
__device__ inline void mma_bf16(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#if __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap();
#endif
}

__device__ inline uint32_t pack_bf16(float low, float high) {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(low, high);
    uint32_t bits;
    memcpy(&bits, &pair, sizeof bits);
    return bits;
}

__device__ inline uint32_t two_bf16(const __nv_bfloat16* at) { return *reinterpret_cast<const uint32_t*>(at); }

// A fragment of rows [row0, row0 + 16) and columns [col0, col0 + 16) of a row-major tile.
__device__ inline void load_a(uint32_t a[4], const __nv_bfloat16* tile, int row_stride, int row0, int col0) {
    const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
    const __nv_bfloat16* at = tile + (row0 + g) * row_stride + col0 + 2 * t;
    a[0] = two_bf16(at);
    a[1] = two_bf16(at + 8 * row_stride);
    a[2] = two_bf16(at + 8);
    a[3] = two_bf16(at + 8 * row_stride + 8);
}

// B fragment with B[k][n] = tile[n0 + n][k0 + k]: n-th row of the tile, k along it.
__device__ inline void load_b(uint32_t b[2], const __nv_bfloat16* tile, int row_stride, int n0, int k0) {
    const int g = threadIdx.x % 32 / 4, t = threadIdx.x % 4;
    const __nv_bfloat16* at = tile + (n0 + g) * row_stride + k0 + 2 * t;
    b[0] = two_bf16(at);
    b[1] = two_bf16(at + 8);
}

// The A fragment of columns [16c, 16c + 16) of a 16 x 64 tile held as D fragments (n-tiles 2c, 2c+1).
__device__ inline void a_from_scores(uint32_t a[4], const float (*scores)[4], int c) {
    const float* left = scores[2 * c];
    const float* right = scores[2 * c + 1];
    a[0] = pack_bf16(left[0], left[1]);
    a[1] = pack_bf16(left[2], left[3]);
    a[2] = pack_bf16(right[0], right[1]);
    a[3] = pack_bf16(right[2], right[3]);
}

// rows[warp's 16 x 64] += A (16 x width, from a row-major tile) B^T, with B = the 64 rows of
// `other` (row-major, width columns): scores of the warp's rows against a tile's 64 tokens.
template <int width>
__device__ inline void tile_products(float (*scores)[4], const __nv_bfloat16* rows_tile, const __nv_bfloat16* other) {
    const int row0 = 16 * (threadIdx.x / 32);
#pragma unroll
    for (int c = 0; c < width / 16; c++) {
        uint32_t a[4];
        load_a(a, rows_tile, stride<width>(), row0, 16 * c);
#pragma unroll
        for (int n = 0; n < score_tiles; n++) {
            uint32_t b[2];
            load_b(b, other, stride<width>(), 8 * n, 16 * c);
            mma_bf16(scores[n], a, b);
        }
    }
}

// out[16 x width] += weights[16 x 64, as D fragments] X, X [64 tokens][width] held transposed
// in `x_transposed` [width][64]: the products that sum over a tile's tokens.
template <int width>
__device__ inline void weighted_sum(float (*out)[4], const float (*weights)[4], const __nv_bfloat16* x_transposed) {
#pragma unroll
    for (int c = 0; c < attention_tile / 16; c++) {
        uint32_t a[4];
        a_from_scores(a, weights, c);
#pragma unroll
        for (int n = 0; n < width / 8; n++) {
            uint32_t b[2];
            load_b(b, x_transposed, stride<attention_tile>(), 8 * n, 16 * c);
            mma_bf16(out[n], a, b);
        }
    }
}

// Tokens [begin, begin + 64) of one head of x [T, heads, D] (f32 or bf16) as bf16, into `tile`
// [64][width] and/or `transposed` [width][64] (either may be null); zero past T and past D.
template <int width, typename Element>
__device__ inline void load_bf16(__nv_bfloat16* tile, __nv_bfloat16* transposed, const Element* x, int64_t begin,
                                 int64_t T, int64_t heads, int64_t head, int64_t D) {
    for (int e = threadIdx.x; e < attention_tile * width; e += blockDim.x) {
        const int r = e / width, d = e % width;
        const int64_t token = begin + r;
        const __nv_bfloat16 value =
            __float2bfloat16_rn(token < T && d < D ? to_float(x[(token * heads + head) * D + d]) : 0.0f);
        if (tile) tile[r * stride<width>() + d] = value;
        if (transposed) transposed[d * stride<attention_tile>() + r] = value;
    }
}

// This thread's two rows of its warp's 16: tile rows 16w + g and 16w + g + 8.
__device__ inline int own_row(int r) { return 16 * (threadIdx.x / 32) + threadIdx.x % 32 / 4 + 8 * r; }
// Column of element e (0..3) of n-tile n in a D fragment.
__device__ inline int own_column(int n, int e) { return 8 * n + 2 * (threadIdx.x % 4) + (e & 1); }

// Sum / max over the 4 threads (t = 0..3) that hold one row of a D fragment.
__device__ inline float row_sum(float value) {
    value += __shfl_xor_sync(0xffffffffu, value, 1);
    return value + __shfl_xor_sync(0xffffffffu, value, 2);
}
__device__ inline float row_max(float value) {
    value = fmaxf(value, __shfl_xor_sync(0xffffffffu, value, 1));
    return fmaxf(value, __shfl_xor_sync(0xffffffffu, value, 2));
}

// Where a row's global index, segment and validity live (per thread: its two rows).
struct OwnRows {
    int32_t index[2], segment[2];
    bool valid[2];
};

__device__ inline OwnRows own_rows(const int32_t* all_index, const int32_t* all_segment, int64_t begin, int64_t T) {
    OwnRows rows;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t token = begin + own_row(r);
        rows.valid[r] = token < T;
        rows.index[r] = rows.valid[r] ? all_index[token] : 0;
        rows.segment[r] = rows.valid[r] ? all_segment[token] : 0;
    }
    return rows;
}

// Writes a warp's 16 x width accumulator, times `factor`, into rows [begin, begin + 64) of one
// head of x [T, heads, D]: added (the gradients, which ACCUMULATE) or stored (the forward's
// out); rows past T and columns past D are dropped.
template <int width>
__device__ inline void write_rows(float* x, const float (*acc)[4], float factor, bool add, int64_t begin, int64_t T,
                                  int64_t heads, int64_t head, int64_t D) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t token = begin + own_row(r);
        if (token >= T) continue;
#pragma unroll
        for (int n = 0; n < width / 8; n++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
                const int64_t d = own_column(n, c);
                if (d >= D) continue;
                float& element = x[(token * heads + head) * D + d];
                element = (add ? element : 0.0f) + factor * acc[n][2 * r + c];
            }
    }
}

// The 64-query tile and the head of this block (the forward and dq grids are (query tiles,
// heads)), and the KV head it reads (GQA).
struct QueryBlock {
    int64_t begin, head, kv_head;
};
__device__ inline QueryBlock query_block(const AttentionArgs& args) {
    const int64_t head = blockIdx.y;
    return {int64_t(blockIdx.x) * attention_tile, head, head / (args.H / args.Hkv)};
}

template <int width> constexpr size_t forward_shared_bytes() {
    // q, k tiles; v transposed; key indices and segments
    return (2 * attention_tile * stride<width>() + width * stride<attention_tile>()) * sizeof(__nv_bfloat16) +
           2 * attention_tile * sizeof(int32_t);
}

// Online softmax per row, as in attention_block.cu: m, l, and o unnormalised.
template <int width, typename Element>
__global__ void __launch_bounds__(threads)
    tensor_core_forward_kernel(float* out, float* lse, const Element* q, const Element* k, const Element* v,
                               AttentionArgs args, const TileSummary* q_summaries, const TileSummary* k_summaries) {
    extern __shared__ __align__(16) unsigned char shared[];
    auto* q_tile = reinterpret_cast<__nv_bfloat16*>(shared);     // [64][width]
    auto* k_tile = q_tile + attention_tile * stride<width>();     // [64][width]
    auto* vt_tile = k_tile + attention_tile * stride<width>();    // [width][64]
    auto* key_index = reinterpret_cast<int32_t*>(vt_tile + width * stride<attention_tile>());
    auto* key_segment = key_index + attention_tile;

    const int64_t D = args.D, H = args.H, Tq = args.Tq, Tk = args.Tk;
    const auto [q_begin, head, kv_head] = query_block(args);
    load_bf16<width>(q_tile, nullptr, q, q_begin, Tq, H, head, D);
    const OwnRows rows = own_rows(args.q_index, args.q_segment, q_begin, Tq);
    const TileSummary query_summary = q_summaries[blockIdx.x];
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    float o[width / 8][4] = {};

    const int64_t k_tiles = attention_tiles(Tk);
    for (int64_t k_tile_number = 0; k_tile_number < k_tiles; k_tile_number++) {
        if (!tiles_may_interact(query_summary, k_summaries[k_tile_number], args.causal)) continue;  // uniform
        const int64_t k_begin = k_tile_number * attention_tile;
        __syncthreads();  // the previous key tile is no longer read (and the q tile is written)
        load_bf16<width>(k_tile, nullptr, k, k_begin, Tk, args.Hkv, kv_head, D);
        load_bf16<width>(nullptr, vt_tile, v, k_begin, Tk, args.Hkv, kv_head, D);
        load_positions(key_index, key_segment, args.k_index, args.k_segment, k_begin, Tk);
        __syncthreads();

        float s[score_tiles][4] = {};
        tile_products<width>(s, q_tile, k_tile);
        // s = scale q.k on visible pairs, -inf elsewhere; then m' and the rescale of l and o
        float rescale[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float tile_max = -INFINITY;
#pragma unroll
            for (int n = 0; n < score_tiles; n++)
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    const int j = own_column(n, c);
                    const bool seen = rows.valid[r] && k_begin + j < Tk &&
                                      visible(rows.index[r], rows.segment[r], key_index[j], key_segment[j], args.causal);
                    float& score = s[n][2 * r + c];
                    score = seen ? args.scale * score : -INFINITY;
                    tile_max = fmaxf(tile_max, score);
                }
            const float m_new = fmaxf(m[r], row_max(tile_max));
            // m_new = -inf: nothing visible to this row yet; p = 0 and o, l stay 0
            rescale[r] = m_new == -INFINITY ? 1.0f : expf(m[r] - m_new);
            float sum = 0.0f;
#pragma unroll
            for (int n = 0; n < score_tiles; n++)
#pragma unroll
                for (int c = 0; c < 2; c++) {
                    float& score = s[n][2 * r + c];
                    score = m_new == -INFINITY ? 0.0f : expf(score - m_new);  // p
                    sum += score;
                }
            l[r] = l[r] * rescale[r] + row_sum(sum);
            m[r] = m_new;
        }
#pragma unroll
        for (int n = 0; n < width / 8; n++) {
            o[n][0] *= rescale[0], o[n][1] *= rescale[0];
            o[n][2] *= rescale[1], o[n][3] *= rescale[1];
        }
        weighted_sum<width>(o, s, vt_tile);  // o += p v
    }

    // out = o / l (0 for a row that saw nothing), lse = m + log l (-inf)
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float inverse_sum = l[r] == 0.0f ? 0.0f : 1.0f / l[r];
#pragma unroll
        for (int n = 0; n < width / 8; n++) o[n][2 * r] *= inverse_sum, o[n][2 * r + 1] *= inverse_sum;
        const int64_t i = q_begin + own_row(r);
        if (i < Tq && threadIdx.x % 4 == 0) lse[i * H + head] = l[r] == 0.0f ? -INFINITY : m[r] + logf(l[r]);
    }
    write_rows<width>(out, o, 1.0f, false, q_begin, Tq, H, head, D);
}

// The other side of a warp's score tile: the 64 tokens of the tile its columns are.
struct ColumnTokens {
    const int32_t* index;
    const int32_t* segment;
    int64_t begin, T;
};

// P and dS of a warp's 16 rows against a tile's 64 columns, in place of s and dp:
//   p = exp(scale s - lse) on visible pairs (0 elsewhere, and where lse = -inf),
//   ds = p (dp - delta),
// with lse and delta those of the query: of the row (lse_of_row, delta_of_row: the dq kernel)
// or of the column (lse_of_column, delta_of_column, and rows are keys: the dk/dv kernel).
__device__ inline void probabilities_and_score_gradients(float (*s)[4], float (*dp)[4], const OwnRows& rows,
                                                         const ColumnTokens& columns, const float* lse_of_row,
                                                         const float* delta_of_row, const float* lse_of_column,
                                                         const float* delta_of_column, const AttentionArgs& args) {
    const bool rows_are_queries = lse_of_row != nullptr;
#pragma unroll
    for (int n = 0; n < score_tiles; n++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int r = e / 2, j = own_column(n, e);
            const float lse = rows_are_queries ? lse_of_row[r] : lse_of_column[j];
            const float delta = rows_are_queries ? delta_of_row[r] : delta_of_column[j];
            const bool seen =
                rows.valid[r] && columns.begin + j < columns.T && lse != -INFINITY &&
                (rows_are_queries
                     ? visible(rows.index[r], rows.segment[r], columns.index[j], columns.segment[j], args.causal)
                     : visible(columns.index[j], columns.segment[j], rows.index[r], rows.segment[r], args.causal));
            const float p = seen ? expf(args.scale * s[n][e] - lse) : 0.0f;
            s[n][e] = p;
            dp[n][e] = p * (dp[n][e] - delta);
        }
}

template <int width> constexpr size_t dkdv_shared_bytes() {
    // k, v, q, dout tiles; q and dout transposed; query indices, segments, lse, delta
    return (4 * attention_tile * stride<width>() + 2 * width * stride<attention_tile>()) * sizeof(__nv_bfloat16) +
           4 * attention_tile * sizeof(float);
}

template <int width, typename Element>
__global__ void __launch_bounds__(threads)
    tensor_core_dkdv_kernel(float* dk, float* dv, const float* dout, const Element* q, const Element* k,
                            const Element* v, const float* lse, const float* delta, AttentionArgs args,
                            const TileSummary* q_summaries, const TileSummary* k_summaries) {
    extern __shared__ __align__(16) unsigned char shared[];
    auto* k_tile = reinterpret_cast<__nv_bfloat16*>(shared);           // [64][width]
    auto* v_tile = k_tile + attention_tile * stride<width>();           // [64][width]
    auto* q_tile = v_tile + attention_tile * stride<width>();           // [64][width]
    auto* dout_tile = q_tile + attention_tile * stride<width>();        // [64][width]
    auto* qt_tile = dout_tile + attention_tile * stride<width>();       // [width][64]
    auto* doutt_tile = qt_tile + width * stride<attention_tile>();      // [width][64]
    auto* query_index = reinterpret_cast<int32_t*>(doutt_tile + width * stride<attention_tile>());
    auto* query_segment = query_index + attention_tile;
    auto* query_lse = reinterpret_cast<float*>(query_segment + attention_tile);
    auto* query_delta = query_lse + attention_tile;

    const int64_t D = args.D, H = args.H, Hkv = args.Hkv, Tq = args.Tq, Tk = args.Tk;
    const int64_t group = H / Hkv;
    const int64_t k_begin = int64_t(blockIdx.x) * attention_tile, kv_head = blockIdx.y;
    load_bf16<width>(k_tile, nullptr, k, k_begin, Tk, Hkv, kv_head, D);
    load_bf16<width>(v_tile, nullptr, v, k_begin, Tk, Hkv, kv_head, D);
    const OwnRows keys = own_rows(args.k_index, args.k_segment, k_begin, Tk);
    const TileSummary key_summary = k_summaries[blockIdx.x];
    float dk_acc[width / 8][4] = {}, dv_acc[width / 8][4] = {};

    const int64_t q_tiles = attention_tiles(Tq);
    for (int64_t head = kv_head * group; head < (kv_head + 1) * group; head++) {
        for (int64_t q_tile_number = 0; q_tile_number < q_tiles; q_tile_number++) {
            if (!tiles_may_interact(q_summaries[q_tile_number], key_summary, args.causal)) continue;  // uniform
            const int64_t q_begin = q_tile_number * attention_tile;
            __syncthreads();  // the previous query tile is no longer read
            load_bf16<width>(q_tile, qt_tile, q, q_begin, Tq, H, head, D);
            load_bf16<width>(dout_tile, doutt_tile, dout, q_begin, Tq, H, head, D);
            load_positions(query_index, query_segment, args.q_index, args.q_segment, q_begin, Tq);
            for (int j = threadIdx.x; j < attention_tile; j += blockDim.x) {
                const bool valid = q_begin + j < Tq;
                query_lse[j] = valid ? lse[(q_begin + j) * H + head] : -INFINITY;
                query_delta[j] = valid ? delta[(q_begin + j) * H + head] : 0.0f;
            }
            __syncthreads();

            // s^T = k q^T and dp^T = v dout^T for the warp's 16 keys x 64 queries
            float s[score_tiles][4] = {}, dp[score_tiles][4] = {};
            tile_products<width>(s, k_tile, q_tile);
            tile_products<width>(dp, v_tile, dout_tile);
            const ColumnTokens queries{query_index, query_segment, q_begin, Tq};
            probabilities_and_score_gradients(s, dp, keys, queries, nullptr, nullptr, query_lse, query_delta, args);
            weighted_sum<width>(dv_acc, s, doutt_tile);  // dv += P^T dout
            weighted_sum<width>(dk_acc, dp, qt_tile);    // dk += dS^T q  (times scale below)
        }
    }
    write_rows<width>(dk, dk_acc, args.scale, true, k_begin, Tk, Hkv, kv_head, D);
    write_rows<width>(dv, dv_acc, 1.0f, true, k_begin, Tk, Hkv, kv_head, D);
}

template <int width> constexpr size_t dq_shared_bytes() {
    // q, dout, k, v tiles; k transposed; key indices and segments
    return (4 * attention_tile * stride<width>() + width * stride<attention_tile>()) * sizeof(__nv_bfloat16) +
           2 * attention_tile * sizeof(int32_t);
}

template <int width, typename Element>
__global__ void __launch_bounds__(threads)
    tensor_core_dq_kernel(float* dq, const float* dout, const Element* q, const Element* k, const Element* v,
                          const float* lse, const float* delta, AttentionArgs args, const TileSummary* q_summaries,
                          const TileSummary* k_summaries) {
    extern __shared__ __align__(16) unsigned char shared[];
    auto* q_tile = reinterpret_cast<__nv_bfloat16*>(shared);       // [64][width]
    auto* dout_tile = q_tile + attention_tile * stride<width>();    // [64][width]
    auto* k_tile = dout_tile + attention_tile * stride<width>();    // [64][width]
    auto* v_tile = k_tile + attention_tile * stride<width>();       // [64][width]
    auto* kt_tile = v_tile + attention_tile * stride<width>();      // [width][64]
    auto* key_index = reinterpret_cast<int32_t*>(kt_tile + width * stride<attention_tile>());
    auto* key_segment = key_index + attention_tile;

    const int64_t D = args.D, H = args.H, Tq = args.Tq, Tk = args.Tk;
    const auto [q_begin, head, kv_head] = query_block(args);
    load_bf16<width>(q_tile, nullptr, q, q_begin, Tq, H, head, D);
    load_bf16<width>(dout_tile, nullptr, dout, q_begin, Tq, H, head, D);
    const OwnRows rows = own_rows(args.q_index, args.q_segment, q_begin, Tq);
    float row_lse[2], row_delta[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int64_t i = q_begin + own_row(r);
        row_lse[r] = rows.valid[r] ? lse[i * H + head] : -INFINITY;
        row_delta[r] = rows.valid[r] ? delta[i * H + head] : 0.0f;
    }
    const TileSummary query_summary = q_summaries[blockIdx.x];
    float dq_acc[width / 8][4] = {};

    const int64_t k_tiles = attention_tiles(Tk);
    for (int64_t k_tile_number = 0; k_tile_number < k_tiles; k_tile_number++) {
        if (!tiles_may_interact(query_summary, k_summaries[k_tile_number], args.causal)) continue;  // uniform
        const int64_t k_begin = k_tile_number * attention_tile;
        __syncthreads();
        load_bf16<width>(k_tile, kt_tile, k, k_begin, Tk, args.Hkv, kv_head, D);
        load_bf16<width>(v_tile, nullptr, v, k_begin, Tk, args.Hkv, kv_head, D);
        load_positions(key_index, key_segment, args.k_index, args.k_segment, k_begin, Tk);
        __syncthreads();

        float s[score_tiles][4] = {}, dp[score_tiles][4] = {};
        tile_products<width>(s, q_tile, k_tile);     // s = q k^T
        tile_products<width>(dp, dout_tile, v_tile);  // dp = dout v^T
        const ColumnTokens keys{key_index, key_segment, k_begin, Tk};
        probabilities_and_score_gradients(s, dp, rows, keys, row_lse, row_delta, nullptr, nullptr, args);
        weighted_sum<width>(dq_acc, dp, kt_tile);  // dq += dS k  (times scale below)
    }
    write_rows<width>(dq, dq_acc, args.scale, true, q_begin, Tq, H, head, D);
}

template <typename Kernel> void allow_shared_bytes(Kernel kernel, size_t bytes) {
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

template <int width, typename Element>
void launch_forward(float* out, float* lse, const Element* q, const Element* k, const Element* v,
                    const AttentionArgs& args, const TileSummary* q_summaries, const TileSummary* k_summaries,
                    cudaStream_t stream) {
    constexpr size_t bytes = forward_shared_bytes<width>();
    allow_shared_bytes(tensor_core_forward_kernel<width, Element>, bytes);
    const dim3 grid(static_cast<unsigned>(attention_tiles(args.Tq)), static_cast<unsigned>(args.H));
    tensor_core_forward_kernel<width, Element>
        <<<grid, threads, bytes, stream>>>(out, lse, q, k, v, args, q_summaries, k_summaries);
    CUDA_CHECK_LAUNCH("tensor_core_forward_kernel");
}

template <int width, typename Element>
void launch_backward(float* dq, float* dk, float* dv, const float* dout, const Element* q, const Element* k,
                     const Element* v, const float* lse, const float* delta, const AttentionArgs& args,
                     const TileSummary* q_summaries, const TileSummary* k_summaries, cudaStream_t stream) {
    constexpr size_t dkdv_bytes = dkdv_shared_bytes<width>();
    allow_shared_bytes(tensor_core_dkdv_kernel<width, Element>, dkdv_bytes);
    const dim3 dkdv_grid(static_cast<unsigned>(attention_tiles(args.Tk)), static_cast<unsigned>(args.Hkv));
    tensor_core_dkdv_kernel<width, Element><<<dkdv_grid, threads, dkdv_bytes, stream>>>(
        dk, dv, dout, q, k, v, lse, delta, args, q_summaries, k_summaries);
    CUDA_CHECK_LAUNCH("tensor_core_dkdv_kernel");
    constexpr size_t dq_bytes = dq_shared_bytes<width>();
    allow_shared_bytes(tensor_core_dq_kernel<width, Element>, dq_bytes);
    const dim3 dq_grid(static_cast<unsigned>(attention_tiles(args.Tq)), static_cast<unsigned>(args.H));
    tensor_core_dq_kernel<width, Element>
        <<<dq_grid, threads, dq_bytes, stream>>>(dq, dout, q, k, v, lse, delta, args, q_summaries, k_summaries);
    CUDA_CHECK_LAUNCH("tensor_core_dq_kernel");
}

}  // namespace

int64_t tensor_core_attention_shared_bytes(int64_t D) {
    auto most = [](auto... bytes) { return static_cast<int64_t>(std::max({bytes...})); };
    return D <= 64 ? most(forward_shared_bytes<64>(), dkdv_shared_bytes<64>(), dq_shared_bytes<64>())
                   : most(forward_shared_bytes<128>(), dkdv_shared_bytes<128>(), dq_shared_bytes<128>());
}

namespace {

// body(width, q, k, v): the tile width for args.D (an integral_constant) and q, k, v as pointers
// to args.operands' type, so each call picks one of the f32 and bf16 builds at each width.
template <typename Body>
void with_operands(const AttentionArgs& args, const void* q, const void* k, const void* v, Body&& body) {
    with_element_type(args.operands, [&](auto element) {
        using Element = decltype(element);
        const auto* q_ = static_cast<const Element*>(q);
        const auto* k_ = static_cast<const Element*>(k);
        const auto* v_ = static_cast<const Element*>(v);
        if (args.D <= 64) {
            body(std::integral_constant<int, 64>{}, q_, k_, v_);
        } else {
            body(std::integral_constant<int, 128>{}, q_, k_, v_);
        }
    });
}

}  // namespace

void tensor_core_attention_forward(float* out, float* lse, const void* q, const void* k, const void* v,
                                   const AttentionArgs& args, const TileSummary* q_summaries,
                                   const TileSummary* k_summaries, cudaStream_t stream) {
    with_operands(args, q, k, v, [&](auto width, auto q_, auto k_, auto v_) {
        launch_forward<width()>(out, lse, q_, k_, v_, args, q_summaries, k_summaries, stream);
    });
}

void tensor_core_attention_backward(float* dq, float* dk, float* dv, const float* dout, const void* q, const void* k,
                                    const void* v, const float* lse, const float* delta, const AttentionArgs& args,
                                    const TileSummary* q_summaries, const TileSummary* k_summaries,
                                    cudaStream_t stream) {
    with_operands(args, q, k, v, [&](auto width, auto q_, auto k_, auto v_) {
        launch_backward<width()>(dq, dk, dv, dout, q_, k_, v_, lse, delta, args, q_summaries, k_summaries, stream);
    });
}

}  // namespace ringlm::kernels
