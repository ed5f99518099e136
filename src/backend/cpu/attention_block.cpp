// CPU attention block kernels, flash-attention-2 style: queries and keys are cut into tiles,
// the softmax runs online over key tiles (running max m, running sum l, output accumulator),
// so no [Tq, Tk] matrix ever exists; memory is O(T). The formulas are in backend.h.
//
// Layout. Operands are packed head-major and tile-padded, so every tile is one contiguous
// block the small matrix products below stream through:
//   queries  [H][Tq_padded][Dp]   (q pre-multiplied by scale, so scores = Q K^T directly)
//   keys     [Hkv][Tk_padded][Dp] and, transposed per key tile, [Hkv][key tiles][Dp][key_tile]
// Forward packs everything up front (every query tile reads every key tile); backward packs
// the queries up front and each key/value tile inside the one work item that reads it, so its
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
#include "backend/attention_tiles.h"
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
    TokenRanges ranges;
};

std::vector<TileRange> tile_ranges(const int32_t* index, const int32_t* segment, int64_t rows, int64_t tile) {
    std::vector<TileRange> tiles;
    for (int64_t begin = 0; begin < rows; begin += tile) {
        TileRange r{begin, std::min(tile, rows - begin), {index[begin], index[begin], segment[begin], segment[begin]}};
        for (int64_t t = begin; t < begin + r.count; t++) {
            r.ranges.index_min = std::min(r.ranges.index_min, index[t]);
            r.ranges.index_max = std::max(r.ranges.index_max, index[t]);
            r.ranges.segment_min = std::min(r.ranges.segment_min, segment[t]);
            r.ranges.segment_max = std::max(r.ranges.segment_max, segment[t]);
        }
        tiles.push_back(r);
    }
    return tiles;
}

enum class Visibility { none, all, some };

// none: no pair can be visible (tiles_may_interact, backend/attention_tiles.h).
// all: one segment on both sides, every key at or before every query, and both tiles full.
Visibility tile_visibility(const TileRange& q, const TileRange& k, bool causal, int64_t query_rows) {
    if (!tiles_may_interact(q.ranges, k.ranges, causal)) return Visibility::none;
    const TokenRanges &qr = q.ranges, &kr = k.ranges;
    const bool one_segment = qr.segment_min == qr.segment_max && kr.segment_min == kr.segment_max;
    const bool full = q.count == query_rows && k.count == key_tile;
    if (one_segment && full && (!causal || kr.index_max <= qr.index_min)) return Visibility::all;
    return Visibility::some;
}

struct MaskView {
    const int32_t *q_index, *q_segment, *k_index, *k_segment;
    bool causal;
};

// scores[i][j] = -inf where key j is invisible to query i (or either is padding).
template <typename T>
void mask_scores(T* scores, const MaskView& mask, const TileRange& q, const TileRange& k, int64_t query_rows) {
    const T minus_infinity = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < query_rows; i++) {
        T* row = scores + i * key_tile;
        if (i >= q.count) {
            std::fill(row, row + key_tile, minus_infinity);
            continue;
        }
        const int32_t qi = mask.q_index[q.begin + i], qs = mask.q_segment[q.begin + i];
        const int32_t* k_index = mask.k_index + k.begin;
        const int32_t* k_segment = mask.k_segment + k.begin;
        // bitwise & and |, not && and ||: no branch, so the loop vectorises
        const bool bidirectional = !mask.causal;
        for (int64_t j = 0; j < k.count; j++) {
            const bool visible = (k_segment[j] == qs) & ((k_index[j] <= qi) | bidirectional);
            row[j] = visible ? row[j] : minus_infinity;
        }
        for (int64_t j = k.count; j < key_tile; j++) row[j] = minus_infinity;
    }
}

// --- arithmetic that vectorises ---------------------------------------------------------

// Reductions over one tile row in 16 independent lanes: the lanes are vectorised without
// reassociating (which the compiler may not do for floats on its own).
template <typename T>
T row_max(const T* row, int64_t count) {
    T lanes[16];
    std::fill(lanes, lanes + 16, -std::numeric_limits<T>::infinity());
    for (int64_t j = 0; j < count; j += 16)
        for (int l = 0; l < 16; l++) lanes[l] = std::max(lanes[l], row[j + l]);
    return *std::max_element(lanes, lanes + 16);
}

template <typename T>
T row_sum(const T* row, int64_t count) {
    T lanes[16] = {};
    for (int64_t j = 0; j < count; j += 16)
        for (int l = 0; l < 16; l++) lanes[l] += row[j + l];
    T total = 0;
    for (int l = 0; l < 16; l++) total += lanes[l];
    return total;
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

// One key tile of head h, transposed: dst[d][j] = src[tile * key_tile + j][h][d], [Dp][key_tile],
// zero-padded; for the products that need K^T (scores) or V^T (dP).
template <typename T>
void pack_transposed_tile(T* dst, const T* src, int64_t rows, int64_t heads, int64_t h, int64_t D, int64_t tile,
                          int64_t Dp) {
    for (int64_t d = 0; d < Dp; d++) {
        for (int64_t j = 0; j < key_tile; j++) {
            const int64_t t = tile * key_tile + j;
            dst[d * key_tile + j] = (t < rows && d < D) ? src[(t * heads + h) * D + d] : T(0);
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

// dst[h][tile] = every key tile of every head transposed (pack_transposed_tile), [heads][tiles][Dp][key_tile].
template <typename T>
void pack_transposed_tiles(T* dst, const T* src, int64_t rows, int64_t heads, int64_t D, int64_t tiles, int64_t Dp) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t h = 0; h < heads; h++)
        for (int64_t tile = 0; tile < tiles; tile++)
            pack_transposed_tile(dst + (h * tiles + tile) * Dp * key_tile, src, rows, heads, h, D, tile, Dp);
}

MaskView mask_view(const AttentionMask& mask) {
    return {mask.q_index.data<int32_t>(), mask.q_segment.data<int32_t>(), mask.k_index.data<int32_t>(),
            mask.k_segment.data<int32_t>(), mask.causal};
}

// scores[query_rows][key_tile] = Q_tile K_tile^T (q already scaled), masked unless all visible.
template <typename T>
void tile_scores(T* scores, const T* q_tile, const T* k_tile_transposed, int64_t Dp, int64_t query_rows,
                 const MaskView& mask, const TileRange& q, const TileRange& k, Visibility visibility) {
    tile_product<Into::overwrite, OperandA::as_stored>(scores, key_tile, q_tile, Dp, k_tile_transposed, key_tile,
                                                        query_rows, Dp, key_tile);
    if (visibility == Visibility::some) mask_scores(scores, mask, q, k, query_rows);
}

}  // namespace

// --- forward --------------------------------------------------------------------------

void CpuBackend::attention_block_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v,
                                         const AttentionMask& mask, double scale) {
    if (any_bf16({&out, &q, &k, &v})) {  // bf16 q, k, v and out (f32 for a ring's partials); lse f32
        Tensor out_f32 = f32_output(out);
        attention_block_forward(out_f32, lse, widened(q), widened(k), widened(v), mask, scale);
        return narrow_into(out, out_f32);
    }
    dispatch_floating("attention_block_forward", q.dtype(), [&]<typename T>(T) {
        const Dims d = dims_of(q, k);
        const MaskView mask_data = mask_view(mask);
        const std::vector<TileRange> q_tiles = tile_ranges(mask_data.q_index, mask_data.q_segment, d.Tq, d.query_rows);
        const std::vector<TileRange> k_tiles = tile_ranges(mask_data.k_index, mask_data.k_segment, d.Tk, key_tile);

        Tensor q_holder, kt_holder, v_holder, thread_holder;
        T* q_packed = cpu_scratch<T>(q_holder, d.H * d.Tq_padded * d.Dp);
        T* k_transposed = cpu_scratch<T>(kt_holder, d.Hkv * d.Tk_padded * d.Dp);
        T* v_packed = cpu_scratch<T>(v_holder, d.Hkv * d.Tk_padded * d.Dp);
        pack_head_major(q_packed, q.data<T>(), d.Tq, d.H, d.D, d.Tq_padded, d.Dp, T(scale));
        pack_transposed_tiles(k_transposed, k.data<T>(), d.Tk, d.Hkv, d.D, d.key_tiles, d.Dp);
        pack_head_major(v_packed, v.data<T>(), d.Tk, d.Hkv, d.D, d.Tk_padded, d.Dp, T(1));

        // per thread: scores/probabilities, the tile's new row maxima, output accumulator, running
        // max and sum
        const int64_t per_thread = d.query_rows * key_tile + d.query_rows + d.query_rows * d.Dp + 2 * d.query_rows;
        T* thread_scratch = cpu_scratch<T>(thread_holder, per_thread * omp_get_max_threads());
        T* out_data = out.data<T>();
        T* lse_data = lse.data<T>();
        const T minus_infinity = -std::numeric_limits<T>::infinity();

#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t item = 0; item < d.H * d.query_tiles; item++) {
            const int64_t h = item / d.query_tiles, qt = item % d.query_tiles, hk = h / d.group;
            const TileRange& q_range = q_tiles[qt];
            T* scores = thread_scratch + per_thread * omp_get_thread_num();
            T* acc = scores + d.query_rows * key_tile + d.query_rows;
            T* running_max = acc + d.query_rows * d.Dp;
            T* running_sum = running_max + d.query_rows;
            std::fill(acc, acc + d.query_rows * d.Dp, T(0));
            std::fill(running_max, running_max + d.query_rows, minus_infinity);
            std::fill(running_sum, running_sum + d.query_rows, T(0));
            const T* q_tile = q_packed + (h * d.Tq_padded + qt * d.query_rows) * d.Dp;

            for (int64_t kt = 0; kt < d.key_tiles; kt++) {
                const Visibility visibility = tile_visibility(q_range, k_tiles[kt], mask.causal, d.query_rows);
                if (visibility == Visibility::none) continue;
                tile_scores(scores, q_tile, k_transposed + (hk * d.key_tiles + kt) * d.Dp * key_tile, d.Dp, d.query_rows,
                            mask_data, q_range, k_tiles[kt], visibility);
                // online softmax: m' = max(m, max_j s_j);  p_j = exp(s_j - m');
                // l' = l exp(m - m') + sum_j p_j;  acc' = acc exp(m - m') + P V
                // (in passes over the whole tile, so each loop is short and the rows overlap)
                T* new_max = scores + d.query_rows * key_tile;  // query_rows scratch values
                for (int64_t i = 0; i < d.query_rows; i++)
                    new_max[i] = std::max(running_max[i], row_max(scores + i * key_tile, key_tile));
                for (int64_t i = 0; i < d.query_rows; i++) {
                    T* row = scores + i * key_tile;
                    // nothing visible yet: p = 0 (exp(-inf) is 0), keep m = -inf
                    const T shift = new_max[i] == minus_infinity ? T(0) : new_max[i];
                    for (int64_t j = 0; j < key_tile; j++) row[j] = vector_exp(row[j] - shift);
                }
                for (int64_t i = 0; i < d.query_rows; i++) {
                    if (new_max[i] == minus_infinity) continue;
                    const T correction = vector_exp(running_max[i] - new_max[i]);
                    running_sum[i] = running_sum[i] * correction + row_sum(scores + i * key_tile, key_tile);
                    if (correction != T(1)) {
                        T* acc_row = acc + i * d.Dp;
                        for (int64_t c = 0; c < d.Dp; c++) acc_row[c] *= correction;
                    }
                    running_max[i] = new_max[i];
                }
                const T* v_tile = v_packed + (hk * d.Tk_padded + kt * key_tile) * d.Dp;
                tile_product<Into::accumulate, OperandA::as_stored>(acc, d.Dp, scores, key_tile, v_tile, d.Dp,
                                                                     d.query_rows, key_tile, d.Dp);
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
    if (any_bf16({&q, &k, &v, &out}))  // dq, dk, dv, dout and lse are f32
        return attention_block_backward(dq, dk, dv, dout, widened(q), widened(k), widened(v), widened(out), lse,
                                        mask, scale);
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
                    pack_transposed_tile(s.k_tile_t, k.data<T>(), d.Tk, d.Hkv, hk, d.D, kt, d.Dp);
                    pack_transposed_tile(s.v_tile_t, v.data<T>(), d.Tk, d.Hkv, hk, d.D, kt, d.Dp);
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
                            tile_scores(probabilities, q_tile, s.k_tile_t, d.Dp, d.query_rows, mask_data, q_tiles[qt],
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
        // the loops run along D and vectorise; the sum builds up in split 0's buffer
        T* dq_data = dq.data<T>();
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < d.Tq; t++) {
            for (int64_t h = 0; h < d.H; h++) {
                T* sum = dq_partial + (h * d.Tq_padded + t) * d.Dp;
                for (int64_t split = 1; split < splits; split++) {
                    const T* part = sum + split * dq_size;
                    for (int64_t c = 0; c < d.D; c++) sum[c] += part[c];
                }
                T* dq_row = dq_data + (t * d.H + h) * d.D;
                for (int64_t c = 0; c < d.D; c++) dq_row[c] += T(scale) * sum[c];
            }
        }
    });
}

}  // namespace ringlm
