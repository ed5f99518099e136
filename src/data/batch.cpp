#include "data/batch.h"

#include "backend/backend.h"
#include "backend/labels.h"
#include "util/error.h"


namespace ringlm {

RowTokens assemble_row(const PackedRow& row, int64_t sequence_len, const DocumentReader& reader,
                       int32_t first_segment_id) {
    RowTokens tokens;
    int32_t segment = first_segment_id;
    for (const DocumentPiece& piece : row.pieces) {
        const DocumentTokens document = reader(piece.document);
        const int64_t length = static_cast<int64_t>(document.input_ids.size());
        if (piece.begin + piece.length > length)
            fail("data: document {} has {} tokens, the plan expected at least {}", piece.document, length,
                 piece.begin + piece.length);
        for (int64_t t = piece.begin; t < piece.begin + piece.length; t++) {
            // target of token t = the token after it in the same document (or its label)
            int32_t target = ignore_label;
            if (t + 1 < length) target = document.labels.empty() ? document.input_ids[t + 1] : document.labels[t + 1];
            tokens.input_ids.push_back(document.input_ids[t]);
            tokens.targets.push_back(target);
            tokens.position_ids.push_back(static_cast<int32_t>(t - piece.begin));
            tokens.segment_ids.push_back(segment);
        }
        segment++;
    }
    // Padding: its own segment, no targets.
    while (static_cast<int64_t>(tokens.input_ids.size()) < sequence_len) {
        tokens.input_ids.push_back(0);
        tokens.targets.push_back(ignore_label);
        tokens.position_ids.push_back(0);
        tokens.segment_ids.push_back(segment);
    }
    return tokens;
}

int64_t count_loss_tokens(const TokenBatch& batch) {
    int64_t n = 0;
    const int32_t* labels = batch.labels.data<int32_t>();
    for (int64_t i = 0; i < batch.labels.numel(); i++) n += labels[i] != ignore_label;
    return n;
}

Tensor to_device(const Tensor& host, Device device) {
    if (device == host.device()) return host;
    Tensor moved = empty(host.shape(), host.dtype(), device);
    backend_for(device).copy(moved, host);
    return moved;
}

TokenBatch to_device(const TokenBatch& batch, Device device) {
    if (device == batch.input_ids.device()) return batch;
    return TokenBatch{to_device(batch.input_ids, device), to_device(batch.position_ids, device),
                      to_device(batch.global_index, device), to_device(batch.segment_ids, device),
                      to_device(batch.labels, device), batch.sp_chunk_ranges, batch.sp_attention_pairs,
                      batch.input_id_range, batch.label_range};
}

}  // namespace ringlm
