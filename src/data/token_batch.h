// The tokens of one micro batch as one rank feeds them to the model.
#pragma once

#include "tensor/tensor.h"

namespace ringlm {

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
    int64_t tokens() const { return input_ids.numel(); }
};

}  // namespace ringlm
