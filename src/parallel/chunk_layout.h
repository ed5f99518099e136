// How each rank of a sequence-parallel group cuts its share of the rows (DESIGN.md "Data path",
// step 4, second half):
// 1. The row (data/batch.h assemble_row) is padded to a multiple of S (2S for zigzag) and each
//    rank keeps its chunk(s), with the GLOBAL index (position in the row) and segment id of every
//    token it keeps, so RoPE, causality and document masks need no fix-up anywhere else: any
//    layout is just a choice of which indices a rank keeps, and every attention variant accepts
//    every layout.
// 2. The micro batch's rows are concatenated into one token list; segment ids are unique
//    across rows, so attention never crosses rows either.
#pragma once

#include "data/batch.h"
#include "data/token_batch.h"

#include <cstdint>
#include <vector>

namespace ringlm {

// How one rank cuts its rows (S ranks, row of P tokens):
//   contiguous  chunk r of S                               (batch_ring, varlen_llama3)
//   zigzag      chunks r and 2S-1-r of 2S                  (batch_zigzag)
//   striped     tokens r, r+S, r+2S, ...                   (batch_stripe)
//   document    every document on its own, head-tail: cut into 2S pieces, rank r keeps pieces
//               r and 2S-1-r (the padding counts as one more document). A piece p of length c
//               at offset p*c costs c*p*c + c(c+1)/2 causal pairs, so pieces r and 2S-1-r
//               together cost c^2 (2S-1) + c(c+1), the same for every r: each rank does nearly
//               equal attention work whatever the document lengths (`load_balance: document`).
//               A document's first L mod 2S tokens (cheap: each sees fewer than 2S keys) are
//               dealt to the ranks holding the fewest tokens so far, before the pieces, so every
//               rank ends the row with exactly P/S tokens (P a multiple of S).
enum class ChunkLayout { contiguous, zigzag, striped, document };

struct SequenceLayout {
    ChunkLayout layout = ChunkLayout::contiguous;
    int64_t sp_size = 1;  // S
    int64_t sp_rank = 0;
};

// Global indices (positions in the padded row) that this rank keeps, in order. The layouts
// that do not depend on the row's contents; the document layout needs the row (below).
std::vector<int32_t> chunk_indices(int64_t padded_length, const SequenceLayout& sequence);
// The global indices every SP rank (0..sp_size-1) keeps of the row whose segment ids these are
// (a document = a run of equal segment ids), each in increasing order: any layout.
std::vector<std::vector<int32_t>> row_chunk_indices(const std::vector<int32_t>& segment_ids, ChunkLayout layout,
                                                    int64_t sp_size);
// sequence_len rounded up to a multiple of S, or of 2S for zigzag.
int64_t padded_row_length(int64_t sequence_len, const SequenceLayout& sequence);

// The micro batch as this rank feeds it to the model (host tensors).
TokenBatch make_token_batch(const std::vector<PackedRow>& rows, int64_t sequence_len, const DocumentReader& reader,
                            const SequenceLayout& sequence);

}  // namespace ringlm
