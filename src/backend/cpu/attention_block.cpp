// CPU attention block kernels, flash-attention-2 style: queries and keys are cut into tiles,
// the softmax runs online over key tiles (running max m, running sum l, output accumulator),
// so no [Tq, Tk] matrix ever exists; memory is O(T). The formulas are in backend.h.
//
// Layout. Operands are packed head-major and tile-padded, so every tile is one contiguous
// block the small matrix products below stream through:
//   rows     [heads][T_padded][Dp]  (q pre-multiplied by scale, so scores = Q K^T directly)
//   tiles transposed  [heads][tiles][Dp][tile rows]
// Forward packs everything up front (every query tile reads every key tile): Q transposed, K
// and V by rows, so its scores come out by key rows (see online_softmax_tile). Backward packs
// Q and dO up front and each key/value tile inside the one work item that reads it, so its
// scratch does not grow with the number of keys.
// Dp is D rounded up to a multiple of 32 (the zero padding changes no dot product), padded
// rows are zero and masked out.
//
// Parallelism. Forward: one work item per (head, query tile). Backward: one work item per
// (kv head, split), a split owning every `splits`-th key tile; it computes dK, dV of its key
// tiles over every query tile of the kv head's query heads, and adds its dQ contribution to its
// own dQ buffer. The buffers are summed in a fixed order at the end: no atomics, and the same
// bits run to run for a given thread count. splits = 1 when there are at least as many kv
// heads as threads (then no extra buffer exists).
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/tile_product.h"
#include "backend/cpu/vector_exp.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ringlm {
namespace {

// A query tile has 64 rows, or fewer when the block has fewer queries (a multiple of 8, the
// rows of tile_product's register block): decoding with a KV cache (Tq = 1) then computes 8
// rows, not 64. Each query row's arithmetic is the same whatever the tile height (rows are
// independent, padded rows add exact zeros), so results do not depend on it.
constexpr int64_t query_tile = 64;
constexpr int64_t key_tile = 64;
// Backward visits key tiles in blocks of 8: the block's dK, dV accumulators and K, V tiles
// (640 KiB at D = 64) stay in a 1 MiB L2 while the query side it streams (q, dout, dQ: 48 KiB
// per query tile) is read once per block instead of once per key tile (one Zen 5 core, T = 4096,
// D = 64: 321 -> 267 ms; blocks of 2: 295, 16: 264). Forward gains nothing from query blocks
// (K and V stream from L2 in order; measured 157 against 159 ms), so it has none.
constexpr int64_t key_tiles_per_block = 8;
constexpr int64_t head_dim_multiple = tile_product_width;  // D padded to whole register blocks

// --- the mask, per tile -------------------------------------------------------------------

// The global indices and segment ids of one tile of queries or keys, and their ranges, so a
// pair of tiles that cannot see each other is skipped without looking at its elements.
struct TileRange {
    int64_t begin = 0, count = 0;  // rows [begin, begin + count) of the block
    int32_t index_min = 0, index_max = 0, segment_min = 0, segment_max = 0;
};

std::vector<TileRange> tile_ranges(const int32_t* index, const int32_t* segment, int64_t rows, int64_t tile) {
    std::vector<TileRange> ranges;
    for (int64_t begin = 0; begin < rows; begin += tile) {
        TileRange r{begin, std::min(tile, rows - begin), index[begin], index[begin], segment[begin], segment[begin]};
        for (int64_t t = begin; t < begin + r.count; t++) {
            r.index_min = std::min(r.index_min, index[t]);
            r.index_max = std::max(r.index_max, index[t]);
            r.segment_min = std::min(r.segment_min, segment[t]);
            r.segment_max = std::max(r.segment_max, segment[t]);
        }
        ranges.push_back(r);
    }
    return ranges;
}

enum class Visibility { none, all, some };

// none: segment ranges are disjoint, or (causal) every key comes after every query.
// all: one segment on both sides, every key at or before every query, and both tiles full.
Visibility tile_visibility(const TileRange& q, const TileRange& k, bool causal, int64_t query_rows) {
    if (q.segment_max < k.segment_min || k.segment_max < q.segment_min) return Visibility::none;
    if (causal && k.index_min > q.index_max) return Visibility::none;
    const bool one_segment = q.segment_min == q.segment_max && k.segment_min == k.segment_max;
    const bool full = q.count == query_rows && k.count == key_tile;
    if (one_segment && full && (!causal || k.index_max <= q.index_min)) return Visibility::all;
    return Visibility::some;
}

struct MaskView {
    const int32_t *q_index, *q_segment, *k_index, *k_segment;
    bool causal;
};

// The score of query i and key j at scores[i * query_stride + j * key_stride] becomes -inf
// where key j is invisible to query i (or either is padding).
template <typename T>
void mask_scores(T* scores, int64_t query_stride, int64_t key_stride, const MaskView& mask, const TileRange& q,
                 const TileRange& k, int64_t query_rows) {
    const T minus_infinity = -std::numeric_limits<T>::infinity();
    const int32_t* k_index = mask.k_index + k.begin;
    const int32_t* k_segment = mask.k_segment + k.begin;
    const bool bidirectional = !mask.causal;
    for (int64_t i = 0; i < query_rows; i++) {
        T* row = scores + i * query_stride;
        const bool query_valid = i < q.count;
        const int32_t qi = query_valid ? mask.q_index[q.begin + i] : 0;
        const int32_t qs = query_valid ? mask.q_segment[q.begin + i] : 0;
        for (int64_t j = 0; j < key_tile; j++) {
            const bool visible =
                query_valid && j < k.count && k_segment[j] == qs && (bidirectional || k_index[j] <= qi);
            if (!visible) row[j * key_stride] = minus_infinity;
        }
    }
}

// --- arithmetic that vectorises ---------------------------------------------------------

// Online softmax over one tile of scores stored by key rows, s[j][i] for key j and query i
// (Milakov & Gimelshein 2018; FlashAttention-2):
//   m'_i = max(m_i, max_j s_ji);  p_ji = exp(s_ji - m'_i);  l'_i = l_i exp(m_i - m'_i) + sum_j p_ji;
//   acc'_i = acc_i exp(m_i - m'_i)  (the caller then adds P V)
// Every reduction runs over keys, down the columns: queries sit in the vector lanes, so no
// horizontal reduction is needed (by query rows, the row maxima and sums were a third of the
// forward's time). A query that has seen no visible key keeps m = -inf and gets p = 0
// (exp(-inf - 0)).
template <typename T>
void online_softmax_tile(T* __restrict scores, int64_t rows, T* __restrict acc, int64_t Dp, T* __restrict running_max,
                         T* __restrict running_sum, T* __restrict shift, T* __restrict correction) {
    const T minus_infinity = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < rows; i++) shift[i] = running_max[i];  // the new max, first
    for (int64_t j = 0; j < key_tile; j++)
        for (int64_t i = 0; i < rows; i++) shift[i] = std::max(shift[i], scores[j * rows + i]);
    for (int64_t i = 0; i < rows; i++) {
        const T new_max = shift[i];
        shift[i] = new_max == minus_infinity ? T(0) : new_max;
        correction[i] = vector_exp(running_max[i] - shift[i]);
        running_max[i] = new_max;
        running_sum[i] *= correction[i];
    }
    for (int64_t j = 0; j < key_tile; j++) {
        for (int64_t i = 0; i < rows; i++) {
            const T p = vector_exp(scores[j * rows + i] - shift[i]);
            scores[j * rows + i] = p;
            running_sum[i] += p;
        }
    }
    for (int64_t i = 0; i < rows; i++)
        if (correction[i] != T(1))
            for (int64_t c = 0; c < Dp; c++) acc[i * Dp + c] *= correction[i];
}

// --- packing --------------------------------------------------------------------------

struct Dims {
    int64_t Tq, Tk, H, Hkv, D;
    int64_t Dp;                     // D padded to a multiple of 32
    int64_t query_rows;             // rows of a query tile: query_tile, or fewer for a short block
    int64_t query_tiles, key_tiles;  // tile counts
    int64_t Tq_padded, Tk_padded;
    int64_t group;                  // query heads per kv head
};

Dims dims_of(const Tensor& q, const Tensor& k) {
    Dims d;
    d.Tq = q.size(0), d.H = q.size(1), d.D = q.size(2);
    d.Tk = k.size(0), d.Hkv = k.size(1);
    d.Dp = (d.D + head_dim_multiple - 1) / head_dim_multiple * head_dim_multiple;
    d.query_rows = std::min(query_tile, std::max<int64_t>(8, (d.Tq + 7) / 8 * 8));
    d.query_tiles = (d.Tq + d.query_rows - 1) / d.query_rows;
    d.key_tiles = (d.Tk + key_tile - 1) / key_tile;
    d.Tq_padded = d.query_tiles * d.query_rows;
    d.Tk_padded = d.key_tiles * key_tile;
    d.group = d.H / d.Hkv;
    return d;
}

// dst[h][t][d] = factor * src[t][h][d]; dst is [heads][rows_padded][Dp], zero-padded.
template <typename T>
void pack_head_major(T* dst, const T* src, int64_t rows, int64_t heads, int64_t D, int64_t rows_padded, int64_t Dp,
                     T factor) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t h = 0; h < heads; h++) {
        for (int64_t t = 0; t < rows_padded; t++) {
            T* out = dst + (h * rows_padded + t) * Dp;
            const int64_t copied = t < rows ? D : 0;  // a padding row is all zeros
            const T* in = src + (t * heads + h) * D;
            for (int64_t d = 0; d < copied; d++) out[d] = factor * in[d];  // no branch: vectorises
            std::fill(out + copied, out + Dp, T(0));
        }
    }
}

// One tile of `tile_rows` rows of head h, transposed and times factor:
// dst[d][j] = factor * src[tile * tile_rows + j][h][d], [Dp][tile_rows], zero-padded; for the
// products that need Q^T (forward's scores), K^T (backward's scores) or V^T (dP).
template <typename T>
void pack_transposed_tile(T* dst, const T* src, int64_t rows, int64_t heads, int64_t h, int64_t D, int64_t tile,
                          int64_t tile_rows, int64_t Dp, T factor) {
    for (int64_t d = 0; d < Dp; d++) {
        for (int64_t j = 0; j < tile_rows; j++) {
            const int64_t t = tile * tile_rows + j;
            dst[d * tile_rows + j] = (t < rows && d < D) ? factor * src[(t * heads + h) * D + d] : T(0);
        }
    }
}

// One key tile of head h, row-major: dst[j][d] = src[tile * key_tile + j][h][d], [key_tile][Dp].
template <typename T>
void pack_tile(T* dst, const T* src, int64_t rows, int64_t heads, int64_t h, int64_t D, int64_t tile, int64_t Dp) {
    for (int64_t j = 0; j < key_tile; j++) {
        const int64_t t = tile * key_tile + j;
        for (int64_t d = 0; d < Dp; d++) dst[j * Dp + d] = (t < rows && d < D) ? src[(t * heads + h) * D + d] : T(0);
    }
}

// dst[h][tile] = every tile of every head transposed (pack_transposed_tile),
// [heads][tiles][Dp][tile_rows].
template <typename T>
void pack_transposed_tiles(T* dst, const T* src, int64_t rows, int64_t heads, int64_t D, int64_t tiles,
                           int64_t tile_rows, int64_t Dp, T factor) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t h = 0; h < heads; h++)
        for (int64_t tile = 0; tile < tiles; tile++)
            pack_transposed_tile(dst + (h * tiles + tile) * Dp * tile_rows, src, rows, heads, h, D, tile, tile_rows, Dp,
                                 factor);
}

MaskView mask_view(const AttentionMask& mask) {
    return {mask.q_index.data<int32_t>(), mask.q_segment.data<int32_t>(), mask.k_index.data<int32_t>(),
            mask.k_segment.data<int32_t>(), mask.causal};
}

// The scores of one query tile and one key tile (q already scaled), masked unless all visible,
// stored by query rows, S[query_rows][key_tile] = Q K^T from K^T (backward), or by key rows,
// S^T[key_tile][query_rows] = K Q^T from Q^T (forward's softmax reduces down columns).
enum class ScoresBy { query_rows, key_rows };

template <ScoresBy layout, typename T>
void tile_scores(T* scores, const T* row_side, const T* column_side_transposed, int64_t Dp, int64_t query_rows,
                 const MaskView& mask, const TileRange& q, const TileRange& k, Visibility visibility) {
    const bool by_queries = layout == ScoresBy::query_rows;
    const int64_t M = by_queries ? query_rows : key_tile, N = by_queries ? key_tile : query_rows;
    tile_product<Into::overwrite, OperandA::as_stored>(scores, N, row_side, Dp, column_side_transposed, N, M, Dp, N);
    if (visibility == Visibility::some)
        mask_scores(scores, by_queries ? key_tile : 1, by_queries ? 1 : query_rows, mask, q, k, query_rows);
}

}  // namespace

// --- forward --------------------------------------------------------------------------

void CpuBackend::attention_block_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                                         const AttentionMask& mask, double scale) {
    dispatch_floating("attention_block_forward", q.dtype(), [&]<typename T>(T) {
        const Dims d = dims_of(q, k);
        const MaskView mask_data = mask_view(mask);
        const std::vector<TileRange> q_tiles = tile_ranges(mask_data.q_index, mask_data.q_segment, d.Tq, d.query_rows);
        const std::vector<TileRange> k_tiles = tile_ranges(mask_data.k_index, mask_data.k_segment, d.Tk, key_tile);

        Tensor qt_holder, k_holder, v_holder, thread_holder;
        T* q_transposed = cpu_scratch<T>(qt_holder, d.H * d.Tq_padded * d.Dp);
        T* k_packed = cpu_scratch<T>(k_holder, d.Hkv * d.Tk_padded * d.Dp);
        T* v_packed = cpu_scratch<T>(v_holder, d.Hkv * d.Tk_padded * d.Dp);
        pack_transposed_tiles(q_transposed, q.data<T>(), d.Tq, d.H, d.D, d.query_tiles, d.query_rows, d.Dp, T(scale));
        pack_head_major(k_packed, k.data<T>(), d.Tk, d.Hkv, d.D, d.Tk_padded, d.Dp, T(1));
        pack_head_major(v_packed, v.data<T>(), d.Tk, d.Hkv, d.D, d.Tk_padded, d.Dp, T(1));

        // per thread: scores/probabilities by key rows, output accumulator, and per query its
        // running max, running sum, shift and correction
        const int64_t per_thread = d.query_rows * (key_tile + d.Dp + 4);
        T* thread_scratch = cpu_scratch<T>(thread_holder, per_thread * omp_get_max_threads());
        T* out_data = out.data<T>();
        T* lse_data = lse.data<T>();
        const T minus_infinity = -std::numeric_limits<T>::infinity();

#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t item = 0; item < d.H * d.query_tiles; item++) {
            const int64_t h = item / d.query_tiles, qt = item % d.query_tiles, hk = h / d.group;
            const TileRange& q_range = q_tiles[qt];
            T* scores = thread_scratch + per_thread * omp_get_thread_num();
            T* acc = scores + key_tile * d.query_rows;
            T* running_max = acc + d.query_rows * d.Dp;
            T* running_sum = running_max + d.query_rows;
            T* shift = running_sum + d.query_rows;
            T* correction = shift + d.query_rows;
            std::fill(acc, acc + d.query_rows * d.Dp, T(0));
            std::fill(running_max, running_max + d.query_rows, minus_infinity);
            std::fill(running_sum, running_sum + d.query_rows, T(0));
            const T* q_tile_t = q_transposed + (h * d.query_tiles + qt) * d.Dp * d.query_rows;

            for (int64_t kt = 0; kt < d.key_tiles; kt++) {
                const Visibility visibility = tile_visibility(q_range, k_tiles[kt], mask.causal, d.query_rows);
                if (visibility == Visibility::none) continue;
                const int64_t key_row0 = (hk * d.Tk_padded + kt * key_tile) * d.Dp;
                tile_scores<ScoresBy::key_rows>(scores, k_packed + key_row0, q_tile_t, d.Dp, d.query_rows, mask_data,
                                                q_range, k_tiles[kt], visibility);
                online_softmax_tile(scores, d.query_rows, acc, d.Dp, running_max, running_sum, shift, correction);
                // acc += P V, P read from its transpose
                tile_product<Into::accumulate, OperandA::transposed>(acc, d.Dp, scores, d.query_rows,
                                                                      v_packed + key_row0, d.Dp, d.query_rows, key_tile,
                                                                      d.Dp);
            }

            // out = acc / l,  lse = m + log l;  a row that saw no key: out = 0, lse = -inf
            for (int64_t i = 0; i < q_range.count; i++) {
                const int64_t t = q_range.begin + i;
                T* out_row = out_data + (t * d.H + h) * d.D;
                const bool empty_row = running_sum[i] == T(0);
                const T inverse_sum = empty_row ? T(0) : T(1) / running_sum[i];
                for (int64_t c = 0; c < d.D; c++) out_row[c] = acc[i * d.Dp + c] * inverse_sum;
                lse_data[t * d.H + h] = empty_row ? minus_infinity : running_max[i] + std::log(running_sum[i]);
            }
        }
    });
}

// --- backward -------------------------------------------------------------------------

void CpuBackend::attention_block_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q,
                                          const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                                          const AttentionMask& mask, double scale) {
    dispatch_floating("attention_block_backward", q.dtype(), [&]<typename T>(T) {
        const Dims d = dims_of(q, k);
        const MaskView mask_data = mask_view(mask);
        const std::vector<TileRange> q_tiles = tile_ranges(mask_data.q_index, mask_data.q_segment, d.Tq, d.query_rows);
        const std::vector<TileRange> k_tiles = tile_ranges(mask_data.k_index, mask_data.k_segment, d.Tk, key_tile);
        const T minus_infinity = -std::numeric_limits<T>::infinity();

        // Queries and dout are packed whole (every work item reads all of them); keys and values
        // tile by tile inside the work item that owns the tile (each tile is read by one item
        // only), so no key-sized scratch exists: the all-gathered K/V of varlen_llama3 can be
        // the whole sequence.
        Tensor q_holder, dout_holder, row_holder, dq_holder, thread_holder;
        T* q_packed = cpu_scratch<T>(q_holder, d.H * d.Tq_padded * d.Dp);
        T* dout_packed = cpu_scratch<T>(dout_holder, d.H * d.Tq_padded * d.Dp);
        pack_head_major(q_packed, q.data<T>(), d.Tq, d.H, d.D, d.Tq_padded, d.Dp, T(scale));
        pack_head_major(dout_packed, dout.data<T>(), d.Tq, d.H, d.D, d.Tq_padded, d.Dp, T(1));

        // per query row and head, [H][Tq_padded]: delta_i = sum(dout_i * out_i), and the lse
        // (padding rows: delta 0, lse -inf, so they contribute nothing)
        T* delta = cpu_scratch<T>(row_holder, 2 * d.H * d.Tq_padded);
        T* lse_packed = delta + d.H * d.Tq_padded;
        const T* out_data = out.data<T>();
        const T* dout_data = dout.data<T>();
        const T* lse_data = lse.data<T>();
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t h = 0; h < d.H; h++) {
            for (int64_t t = 0; t < d.Tq_padded; t++) {
                T sum = 0;
                const int64_t at = (t * d.H + h) * d.D;
                if (t < d.Tq)
                    for (int64_t c = 0; c < d.D; c++) sum += dout_data[at + c] * out_data[at + c];
                delta[h * d.Tq_padded + t] = sum;
                lse_packed[h * d.Tq_padded + t] = t < d.Tq ? lse_data[t * d.H + h] : minus_infinity;
            }
        }

        // Work items (kv head, split); split r owns key tiles r, r + splits, ... (interleaved,
        // so causal work is balanced) and its own dQ buffer [H][Tq_padded][Dp].
        const int64_t threads = omp_get_max_threads();
        const int64_t splits = std::max<int64_t>(1, std::min((threads + d.Hkv - 1) / d.Hkv, d.key_tiles));
        const int64_t dq_size = d.H * d.Tq_padded * d.Dp;
        T* dq_partial = cpu_scratch<T>(dq_holder, splits * dq_size);
        std::fill(dq_partial, dq_partial + splits * dq_size, T(0));

        // per thread: P and dS (tile x tile each), and per key tile of a block its dK and dV
        // accumulators, the key tile (row-major and transposed) and the value tile transposed
        // (key_tile x Dp each)
        const int64_t tile_area = d.query_rows * key_tile;
        const int64_t slot_size = 5 * key_tile * d.Dp;
        const int64_t per_thread = 2 * tile_area + key_tiles_per_block * slot_size;
        T* thread_scratch = cpu_scratch<T>(thread_holder, per_thread * threads);
        T* dk_data = dk.data<T>();
        T* dv_data = dv.data<T>();
        struct KeySlot {
            int64_t kt;
            T *dk_acc, *dv_acc, *k_tile, *k_tile_t, *v_tile_t;
        };

#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t item = 0; item < d.Hkv * splits; item++) {
            const int64_t hk = item / splits, split = item % splits;
            T* probabilities = thread_scratch + per_thread * omp_get_thread_num();
            T* dscores = probabilities + tile_area;
            T* my_dq = dq_partial + split * dq_size;

            // Key tiles in blocks of key_tiles_per_block: each query tile (with its dout and dQ
            // rows) is read once per block, not once per key tile. Every dK, dV and dQ element
            // still sums its terms in the same order as one key tile at a time would.
            for (int64_t first = split; first < d.key_tiles; first += splits * key_tiles_per_block) {
                KeySlot slots[key_tiles_per_block];
                int64_t block_size = 0;
                for (int64_t kt = first; kt < d.key_tiles && block_size < key_tiles_per_block; kt += splits) {
                    T* base = probabilities + 2 * tile_area + block_size * slot_size;
                    KeySlot& s = slots[block_size++];
                    s = {kt, base, base + key_tile * d.Dp, base + 2 * key_tile * d.Dp, base + 3 * key_tile * d.Dp,
                         base + 4 * key_tile * d.Dp};
                    std::fill(s.dk_acc, s.dk_acc + 2 * key_tile * d.Dp, T(0));  // dk_acc and dv_acc
                    pack_tile(s.k_tile, k.data<T>(), d.Tk, d.Hkv, hk, d.D, kt, d.Dp);
                    pack_transposed_tile(s.k_tile_t, k.data<T>(), d.Tk, d.Hkv, hk, d.D, kt, key_tile, d.Dp, T(1));
                    pack_transposed_tile(s.v_tile_t, v.data<T>(), d.Tk, d.Hkv, hk, d.D, kt, key_tile, d.Dp, T(1));
                }

                for (int64_t h = hk * d.group; h < (hk + 1) * d.group; h++) {
                    for (int64_t qt = 0; qt < d.query_tiles; qt++) {
                        const int64_t row0 = h * d.Tq_padded + qt * d.query_rows;
                        const T* q_tile = q_packed + row0 * d.Dp;
                        const T* dout_tile = dout_packed + row0 * d.Dp;
                        for (int64_t b = 0; b < block_size; b++) {
                            const KeySlot& s = slots[b];
                            const TileRange& k_range = k_tiles[s.kt];
                            const Visibility visibility = tile_visibility(q_tiles[qt], k_range, mask.causal, d.query_rows);
                            if (visibility == Visibility::none) continue;
                            tile_scores<ScoresBy::query_rows>(probabilities, q_tile, s.k_tile_t, d.Dp, d.query_rows, mask_data, q_tiles[qt],
                                        k_range, visibility);
                            // P_ij = exp(s_ij - lse_i), 0 where masked or the row sees nothing
                            for (int64_t i = 0; i < d.query_rows; i++) {
                                T* row = probabilities + i * key_tile;
                                const T row_lse = lse_packed[row0 + i];
                                if (row_lse == minus_infinity) {
                                    std::fill(row, row + key_tile, T(0));
                                    continue;
                                }
                                for (int64_t j = 0; j < key_tile; j++) row[j] = vector_exp(row[j] - row_lse);
                            }
                            // dP = dO V^T;  dS_ij = P_ij (dP_ij - delta_i)
                            tile_product<Into::overwrite, OperandA::as_stored>(dscores, key_tile, dout_tile, d.Dp,
                                                                                s.v_tile_t, key_tile, d.query_rows, d.Dp,
                                                                                key_tile);
                            for (int64_t i = 0; i < d.query_rows; i++) {
                                const T row_delta = delta[row0 + i];
                                const T* p_row = probabilities + i * key_tile;
                                T* ds_row = dscores + i * key_tile;
                                for (int64_t j = 0; j < key_tile; j++) ds_row[j] = p_row[j] * (ds_row[j] - row_delta);
                            }
                            // dV += P^T dO;  dK += dS^T (scale Q)  (q_tile holds scale * q)
                            tile_product<Into::accumulate, OperandA::transposed>(s.dv_acc, d.Dp, probabilities, key_tile,
                                                                                  dout_tile, d.Dp, key_tile, d.query_rows,
                                                                                  d.Dp);
                            tile_product<Into::accumulate, OperandA::transposed>(s.dk_acc, d.Dp, dscores, key_tile,
                                                                                  q_tile, d.Dp, key_tile, d.query_rows,
                                                                                  d.Dp);
                            // dQ += dS K  (times scale once, when the splits are summed)
                            tile_product<Into::accumulate, OperandA::as_stored>(my_dq + row0 * d.Dp, d.Dp, dscores,
                                                                                 key_tile, s.k_tile, d.Dp, d.query_rows,
                                                                                 key_tile, d.Dp);
                        }
                    }
                }
                // this item alone owns these rows of dk, dv for kv head hk
                for (int64_t b = 0; b < block_size; b++) {
                    const KeySlot& s = slots[b];
                    const TileRange& k_range = k_tiles[s.kt];
                    for (int64_t j = 0; j < k_range.count; j++) {
                        const int64_t t = k_range.begin + j;
                        for (int64_t c = 0; c < d.D; c++) {
                            dk_data[(t * d.Hkv + hk) * d.D + c] += s.dk_acc[j * d.Dp + c];
                            dv_data[(t * d.Hkv + hk) * d.D + c] += s.dv_acc[j * d.Dp + c];
                        }
                    }
                }
            }
        }

        // dq += scale * (sum over splits, in split order: deterministic), a row at a time so
        // the loops run along D and vectorise
        T* dq_data = dq.data<T>();
#pragma omp parallel
        {
            std::vector<T> sum(d.D);
#pragma omp for schedule(static)
            for (int64_t t = 0; t < d.Tq; t++) {
                for (int64_t h = 0; h < d.H; h++) {
                    std::fill(sum.begin(), sum.end(), T(0));
                    for (int64_t split = 0; split < splits; split++) {
                        const T* part = dq_partial + split * dq_size + (h * d.Tq_padded + t) * d.Dp;
                        for (int64_t c = 0; c < d.D; c++) sum[c] += part[c];
                    }
                    T* dq_row = dq_data + (t * d.H + h) * d.D;
                    for (int64_t c = 0; c < d.D; c++) dq_row[c] += T(scale) * sum[c];
                }
            }
        }
    });
}

}  // namespace ringlm
