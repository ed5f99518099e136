// From packed rows to the tokens one rank feeds the model (DESIGN.md "Data path", step 4).
//
// 1. Each row is assembled whole: input ids, next-token targets (-100 at the end of each
//    document and on padding), position ids restarting at 0 per piece, a segment id per piece.
//    Targets are taken on the whole row BEFORE any cut, so a token whose target lives on the
//    next rank keeps it.
// 2. The row is padded to a multiple of S (2S for zigzag) and each rank keeps its chunk(s),
//    with the GLOBAL index (position in the row) and segment id of every token it keeps, so
//    RoPE, causality and document masks need no fix-up anywhere else.
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

// How one rank cuts its rows.
enum class ChunkLayout { contiguous, zigzag, striped };

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

// Global indices (positions in the padded row) that this rank keeps, in order.
std::vector<int32_t> chunk_indices(int64_t padded_length, const SequenceLayout& sequence);
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
