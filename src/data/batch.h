// From packed rows to the tokens one rank feeds the model (DESIGN.md "Data path", step 4).
//
// 1. Each row is assembled whole: input ids, next-token targets (-100 at the end of each
//    document and on padding), position ids restarting at 0 per piece, a segment id per piece.
//    Targets are taken on the whole row BEFORE any cut, so a token whose target lives on the
//    next rank keeps it.
// 2. The row is padded to a multiple of S (2S for zigzag) and each rank keeps its chunk(s),
//    with the GLOBAL index (position in the row) and segment id of every token it keeps, so
//    RoPE, causality and document masks need no fix-up anywhere else: any layout is just a
//    choice of which indices a rank keeps, and every attention variant accepts every layout.
// 3. The micro batch's rows are concatenated into one token list; segment ids are unique
//    across rows, so attention never crosses rows either.
#pragma once

#include "data/packing.h"
#include "data/token_batch.h"

#include <functional>
#include <string>
#include <vector>

namespace ringlm {

struct DocumentTokens {
    std::vector<int32_t> input_ids;
    std::vector<int32_t> labels;  // empty: every token is a target; else the file's /labels (-100 = none)
};
using DocumentReader = std::function<DocumentTokens(int64_t document)>;

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

// The whole row, before chunking.
struct RowTokens {
    std::vector<int32_t> input_ids, targets, position_ids, segment_ids;
};

RowTokens assemble_row(const PackedRow& row, int64_t sequence_len, const DocumentReader& reader,
                       int32_t first_segment_id);

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

// Tokens of the batch that carry a loss (label != -100), on this rank. Reads the labels on
// the host: count before moving the batch to a device.
int64_t count_loss_tokens(const TokenBatch& batch);

// A host tensor copied to `device` (the tensor itself when that is the host).
Tensor to_device(const Tensor& host, Device device);
// The batch's five i32 tensors copied to `device` (the batch itself when that is the host):
// batches are made on the host, the model may run on a GPU.
TokenBatch to_device(const TokenBatch& batch, Device device);

}  // namespace ringlm
