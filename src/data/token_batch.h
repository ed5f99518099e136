// The tokens of one micro batch as one rank feeds them to the model.
#pragma once

#include "backend/attention_tiles.h"
#include "ops/id_range.h"
#include "tensor/tensor.h"

#include <vector>

namespace ringlm {

// The global-index and segment-id ranges of one sequence-parallel rank's chunk of a micro
// batch, and whether its indices are consecutive: enough for ring attention to skip a K/V block
// no query can see without reading the block's tensors (on a GPU, reading them would stall the
// host every ring step), by the rule the attention kernels skip tiles with (tiles_may_interact),
// and for cuDNN's dispatch to classify a block's mask (mask_kind) without reading it either.
using ChunkRange = KnownTokens;

// One micro batch of tokens as the model sees them: several rows (sequences) flattened into
// one token list. Attention never crosses a segment boundary, so distinct rows and distinct
// packed documents simply carry distinct segment ids; global_index is the token's position
// in its (unsharded) row, which orders causality; position_ids restart at each document.
struct TokenBatch {
    Tensor input_ids;     // i32 [T]
    Tensor position_ids;  // i32 [T]
    Tensor global_index;  // i32 [T]
    Tensor segment_ids;   // i32 [T]
    Tensor labels;        // i32 [T], next-token targets, -100 = no loss
    // Host data: the ChunkRange of every rank of the SP group, in rank order (empty: unknown).
    std::vector<ChunkRange> sp_chunk_ranges;
    // Host data: the (query, key) pairs each rank of the SP group attends, in rank order,
    // counted exactly from the masks of the whole rows (data/attention_work.h).
    std::vector<int64_t> sp_attention_pairs = {};
    // Host data: the range of input_ids and of the labels other than -100, so the model checks
    // them against its vocabulary without reading device tensors (unset: unknown).
    KnownIdRange input_id_range = {}, label_range = {};
    int64_t tokens() const { return input_ids.numel(); }
};

}  // namespace ringlm
