// How much causal attention each sequence-parallel rank computes for a batch, counted exactly
// from the masks: the (query, key) pairs it attends. Attention's FLOPs are 4 x heads x head_dim
// per pair in forward (QK^T and PV) and twice that in backward, so the ratio between ranks is
// the ratio of pairs. Every rank of an SP group assembles the whole rows, so every rank can
// count every rank's work without communicating.
#pragma once

#include <cstdint>
#include <vector>

namespace ringlm {

// Pairs per rank for one row: the mask lets query i see key j when both carry the same segment
// id and j's global index <= i's. `segment_ids` is the whole row by global index; `chunks[r]`
// the global indices rank r holds queries for (row_chunk_indices). O(row + chunks): query i sees
// exactly the tokens of its segment at or before it, counted in one pass over the row.
std::vector<int64_t> attention_pairs_per_rank(const std::vector<int32_t>& segment_ids,
                                              const std::vector<std::vector<int32_t>>& chunks);

// max over ranks / mean over ranks: 1 = perfectly balanced; S = one rank does all the work.
// 1 when there is no work (or one rank).
double attention_imbalance(const std::vector<int64_t>& pairs_per_rank);

}  // namespace ringlm
