#include "data/batch.h"

#include "backend/backend.h"
#include "util/error.h"

#include <algorithm>
#include <limits>

namespace ringlm {

namespace {
constexpr int32_t ignore_index = -100;
}

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
            int32_t target = ignore_index;
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
        tokens.targets.push_back(ignore_index);
        tokens.position_ids.push_back(0);
        tokens.segment_ids.push_back(segment);
    }
    return tokens;
}

int64_t padded_row_length(int64_t sequence_len, const SequenceLayout& sequence) {
    const int64_t multiple = sequence.layout == ChunkLayout::zigzag ? 2 * sequence.sp_size : sequence.sp_size;
    return (sequence_len + multiple - 1) / multiple * multiple;
}

std::vector<int32_t> chunk_indices(int64_t padded_length, const SequenceLayout& sequence) {
    const int64_t S = sequence.sp_size, r = sequence.sp_rank;
    std::vector<int32_t> indices;
    switch (sequence.layout) {
        case ChunkLayout::contiguous: {  // chunk r of S
            const int64_t chunk = padded_length / S;
            for (int64_t i = r * chunk; i < (r + 1) * chunk; i++) indices.push_back(static_cast<int32_t>(i));
            break;
        }
        case ChunkLayout::zigzag: {  // chunks r and 2S-1-r of 2S: every rank gets early and late tokens
            const int64_t chunk = padded_length / (2 * S);
            for (int64_t i = r * chunk; i < (r + 1) * chunk; i++) indices.push_back(static_cast<int32_t>(i));
            for (int64_t i = (2 * S - 1 - r) * chunk; i < (2 * S - r) * chunk; i++)
                indices.push_back(static_cast<int32_t>(i));
            break;
        }
        case ChunkLayout::striped:  // token i on rank i mod S
            for (int64_t i = r; i < padded_length; i += S) indices.push_back(static_cast<int32_t>(i));
            break;
    }
    return indices;
}

TokenBatch make_token_batch(const std::vector<PackedRow>& rows, int64_t sequence_len, const DocumentReader& reader,
                            const SequenceLayout& sequence) {
    const int64_t padded = padded_row_length(sequence_len, sequence);
    const std::vector<int32_t> keep = chunk_indices(padded, sequence);
    const int64_t per_row = static_cast<int64_t>(keep.size()), T = per_row * static_cast<int64_t>(rows.size());
    TokenBatch batch{empty({T}, DType::i32), empty({T}, DType::i32), empty({T}, DType::i32),
                     empty({T}, DType::i32), empty({T}, DType::i32), {}};
    int32_t* ids = batch.input_ids.data<int32_t>();
    int32_t* positions = batch.position_ids.data<int32_t>();
    int32_t* global = batch.global_index.data<int32_t>();
    int32_t* segments = batch.segment_ids.data<int32_t>();
    int32_t* labels = batch.labels.data<int32_t>();
    // Every rank's chunk ranges, from the whole rows this rank assembles anyway.
    std::vector<std::vector<int32_t>> chunks;
    for (int64_t rank = 0; rank < sequence.sp_size; rank++)
        chunks.push_back(chunk_indices(padded, SequenceLayout{sequence.layout, sequence.sp_size, rank}));
    batch.sp_chunk_ranges.assign(chunks.size(), ChunkRange{std::numeric_limits<int32_t>::max(),
                                                           std::numeric_limits<int32_t>::min(),
                                                           std::numeric_limits<int32_t>::max(),
                                                           std::numeric_limits<int32_t>::min()});
    int64_t out = 0;
    for (size_t r = 0; r < rows.size(); r++) {
        // A row holds at most sequence_len pieces plus its padding: sequence_len + 1 segment ids.
        const int32_t first_segment = static_cast<int32_t>(r * static_cast<size_t>(padded + 1));
        const RowTokens row = assemble_row(rows[r], padded, reader, first_segment);
        for (int32_t index : keep) {
            ids[out] = row.input_ids[index];
            positions[out] = row.position_ids[index];
            global[out] = index;
            segments[out] = row.segment_ids[index];
            labels[out] = row.targets[index];
            out++;
        }
        for (size_t rank = 0; rank < chunks.size(); rank++) {
            ChunkRange& range = batch.sp_chunk_ranges[rank];
            for (int32_t index : chunks[rank]) {
                range.index_min = std::min(range.index_min, index);
                range.index_max = std::max(range.index_max, index);
                range.segment_min = std::min(range.segment_min, row.segment_ids[index]);
                range.segment_max = std::max(range.segment_max, row.segment_ids[index]);
            }
        }
    }
    if (rows.empty()) batch.sp_chunk_ranges.clear();
    return batch;
}

int64_t count_loss_tokens(const TokenBatch& batch) {
    int64_t n = 0;
    const int32_t* labels = batch.labels.data<int32_t>();
    for (int64_t i = 0; i < batch.labels.numel(); i++) n += labels[i] != ignore_index;
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
                      to_device(batch.labels, device), batch.sp_chunk_ranges};
}

}  // namespace ringlm
