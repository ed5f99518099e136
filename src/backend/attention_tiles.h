// The tile-skipping rule every attention kernel shares (the CPU's, and the CUDA f32 and
// tensor-core kernels'). A tile of queries and a tile of keys, each summarised by the ranges of
// its tokens' global indices and segment ids, can hold a visible pair (backend.h: the same
// segment and, causal, k_index <= q_index) only if their segment ranges overlap and, causal,
// the smallest key index is at or before the largest query index; otherwise the pair is
// skipped whole. constexpr, so CUDA device code calls it too (nvcc --expt-relaxed-constexpr,
// cuda/cuda.cmake), and the CPU tests check the one rule both run.
// Below it, the whole-block facts cuDNN's dispatch decides from, by the same one rule whether
// the host knows them or the device reduced them.
#pragma once

#include <cstdint>

namespace ringlm {

struct TokenRanges {
    int32_t index_min = 0, index_max = 0, segment_min = 0, segment_max = 0;
};

constexpr bool tiles_may_interact(const TokenRanges& queries, const TokenRanges& keys, bool causal) {
    if (queries.segment_max < keys.segment_min || keys.segment_max < queries.segment_min) return false;
    return !causal || keys.index_min <= queries.index_max;
}

// A block's queries or keys as the host knows them from the batch it built (TokenBatch's
// sp_chunk_ranges): the ranges, and whether the global indices run index_min, index_min + 1, ...
// in order (one row, one contiguous piece). Kernels that serve only some masks decide from
// this without reading the index tensors back (AttentionMask::known_q / known_k).
struct KnownTokens : TokenRanges {
    bool consecutive = false;
};

// The tokens of `parts` laid end to end, in order (an all-gather's result): consecutive when
// each part is and each starts right after the one before.
constexpr KnownTokens concatenation(const KnownTokens* parts, int64_t count) {
    KnownTokens whole = parts[0];
    for (int64_t p = 1; p < count; p++) {
        const KnownTokens& part = parts[p];
        whole.consecutive = whole.consecutive && part.consecutive && part.index_min == whole.index_max + 1;
        whole.index_min = part.index_min < whole.index_min ? part.index_min : whole.index_min;
        whole.index_max = part.index_max > whole.index_max ? part.index_max : whole.index_max;
        whole.segment_min = part.segment_min < whole.segment_min ? part.segment_min : whole.segment_min;
        whole.segment_max = part.segment_max > whole.segment_max ? part.segment_max : whole.segment_max;
    }
    return whole;
}

// What a kernel that serves only the simplest masks (cuDNN's SDPA) must know of a block, from
// the index tensors (a device reduction) or from KnownTokens (no read): whether one segment holds
// every query and key, whether each side's indices are consecutive, and their extremes.
struct MaskFacts {
    bool one_segment = false, q_consecutive = false, k_consecutive = false;
    int32_t q_min = 0, k_min = 0, k_max = 0;
};

constexpr MaskFacts mask_facts(const KnownTokens& q, const KnownTokens& k) {
    return {q.segment_min == q.segment_max && k.segment_min == k.segment_max && q.segment_min == k.segment_min,
            q.consecutive, k.consecutive, q.index_min, k.index_min, k.index_max};
}

// segmented: more than one segment id; all_visible: every key visible to every query (not
// causal, or every key at or before every query); diagonal: the causal block of equal
// consecutive ranges (key j visible to query i iff j <= i); other: anything else.
enum class MaskKind { segmented, all_visible, diagonal, other };

constexpr MaskKind mask_kind(const MaskFacts& f, int64_t Tq, int64_t Tk, bool causal) {
    if (!f.one_segment) return MaskKind::segmented;
    if (!causal || f.k_max <= f.q_min) return MaskKind::all_visible;
    if (Tq == Tk && f.q_consecutive && f.k_consecutive && f.q_min == f.k_min) return MaskKind::diagonal;
    return MaskKind::other;
}

}  // namespace ringlm
