// From packed rows to the tokens of one row (DESIGN.md "Data path", step 4, first half): each
// row is assembled whole: input ids, next-token targets (-100 at the end of each document and
// on padding), position ids restarting at 0 per piece, a segment id per piece. Targets are
// taken on the whole row BEFORE any cut, so a token whose target lives on the next rank keeps
// it. How a rank then cuts its share of the row is the chunk layout (parallel/chunk_layout.h).
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

// The whole row, before chunking.
struct RowTokens {
    std::vector<int32_t> input_ids, targets, position_ids, segment_ids;
};

RowTokens assemble_row(const PackedRow& row, int64_t sequence_len, const DocumentReader& reader,
                       int32_t first_segment_id);

// Tokens of the batch that carry a loss (label != -100), on this rank. Reads the labels on
// the host: count before moving the batch to a device.
int64_t count_loss_tokens(const TokenBatch& batch);

// A host tensor copied to `device` (the tensor itself when that is the host).
Tensor to_device(const Tensor& host, Device device);
// The batch's five i32 tensors copied to `device` (the batch itself when that is the host):
// batches are made on the host, the model may run on a GPU.
TokenBatch to_device(const TokenBatch& batch, Device device);

}  // namespace ringlm
