// The tile-skipping rule every attention kernel shares (the CPU's, and the CUDA f32 and
// tensor-core kernels'). A tile of queries and a tile of keys, each summarised by the ranges of
// its tokens' global indices and segment ids, can hold a visible pair (backend.h: the same
// segment and, causal, k_index <= q_index) only if their segment ranges overlap and, causal,
// the smallest key index is at or before the largest query index; otherwise the pair is
// skipped whole. constexpr, so CUDA device code calls it too (nvcc --expt-relaxed-constexpr,
// cuda/cuda.cmake), and the CPU tests check the one rule both run.
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

}  // namespace ringlm
