#include "parallel/chunk_layout.h"

#include "data/attention_work.h"
#include "ops/check.h"
#include "util/error.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace ringlm {

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
        case ChunkLayout::document:
            fail("chunk_indices: the document layout depends on the row's documents; use row_chunk_indices");
    }
    return indices;
}

namespace {

// The document layout (batch.h): each run of equal segment ids is one document, L = m + 2S*q
// tokens with m < 2S. Its first m tokens are dealt one each to the ranks holding the fewest
// tokens so far (a second round when m > S); the rest is cut into 2S pieces of q tokens, rank r
// taking pieces r and 2S-1-r. Pieces all start m tokens later than without the first m, so each
// rank's pieces still cost the same: q(2m + (2S-1)q) + q(q+1) pairs. The m dealt tokens see at
// most m keys each: the imbalance a document leaves is below 2S^2 pairs, whatever L.
// Token counts: before each document the ranks differ by at most one, and dealing to the
// fewest first keeps it so; a row of P (a multiple of S) tokens therefore ends with P/S each.
std::vector<std::vector<int32_t>> document_chunks(const std::vector<int32_t>& segment_ids, int64_t S) {
    const int64_t P = static_cast<int64_t>(segment_ids.size());
    if (P % S != 0) fail("document layout: a row of {} tokens does not split over {} ranks", P, S);
    std::vector<std::vector<int32_t>> chunks(static_cast<size_t>(S));
    auto chunk = [&](int64_t rank) -> std::vector<int32_t>& { return chunks[static_cast<size_t>(rank)]; };
    std::vector<int64_t> ranks(static_cast<size_t>(S));
    for (int64_t begin = 0, end = 0; begin < P; begin = end) {
        while (end < P && segment_ids[static_cast<size_t>(end)] == segment_ids[static_cast<size_t>(begin)]) end++;
        const int64_t q = (end - begin) / (2 * S), m = (end - begin) % (2 * S);
        std::iota(ranks.begin(), ranks.end(), 0);
        std::stable_sort(ranks.begin(), ranks.end(),
                         [&](int64_t a, int64_t b) { return chunk(a).size() < chunk(b).size(); });
        for (int64_t i = 0; i < m; i++) chunk(ranks[static_cast<size_t>(i % S)]).push_back(static_cast<int32_t>(begin + i));
        // piece p in row order: p < S the head piece of rank p, p >= S the tail piece of rank 2S-1-p
        for (int64_t p = 0; p < 2 * S; p++) {
            const int64_t first = begin + m + p * q;
            for (int64_t index = first; index < first + q; index++)
                chunk(p < S ? p : 2 * S - 1 - p).push_back(static_cast<int32_t>(index));
        }
    }
    return chunks;
}

}  // namespace

std::vector<std::vector<int32_t>> row_chunk_indices(const std::vector<int32_t>& segment_ids, ChunkLayout layout,
                                                    int64_t sp_size) {
    if (layout == ChunkLayout::document) return document_chunks(segment_ids, sp_size);
    std::vector<std::vector<int32_t>> chunks;
    const int64_t P = static_cast<int64_t>(segment_ids.size());
    for (int64_t rank = 0; rank < sp_size; rank++) chunks.push_back(chunk_indices(P, SequenceLayout{layout, sp_size, rank}));
    return chunks;
}

TokenBatch make_token_batch(const std::vector<PackedRow>& rows, int64_t sequence_len, const DocumentReader& reader,
                            const SequenceLayout& sequence) {
    const int64_t padded = padded_row_length(sequence_len, sequence), S = sequence.sp_size;
    // every layout gives every rank P/S tokens of each row
    const int64_t T = padded / S * static_cast<int64_t>(rows.size());
    TokenBatch batch{empty({T}, DType::i32), empty({T}, DType::i32), empty({T}, DType::i32),
                     empty({T}, DType::i32), empty({T}, DType::i32), {}, {}};
    int32_t* ids = batch.input_ids.data<int32_t>();
    int32_t* positions = batch.position_ids.data<int32_t>();
    int32_t* global = batch.global_index.data<int32_t>();
    int32_t* segments = batch.segment_ids.data<int32_t>();
    int32_t* labels = batch.labels.data<int32_t>();
    // Every rank's chunk ranges and attention work, from the whole rows this rank assembles anyway.
    // consecutive: one row whose kept indices run on without a gap (checked below)
    batch.sp_chunk_ranges.assign(static_cast<size_t>(S), ChunkRange{{std::numeric_limits<int32_t>::max(),
                                                                     std::numeric_limits<int32_t>::min(),
                                                                     std::numeric_limits<int32_t>::max(),
                                                                     std::numeric_limits<int32_t>::min()},
                                                                    rows.size() == 1});
    batch.sp_attention_pairs.assign(static_cast<size_t>(S), 0);
    int64_t out = 0;
    for (size_t r = 0; r < rows.size(); r++) {
        // A row holds at most sequence_len pieces plus its padding: sequence_len + 1 segment ids.
        const int32_t first_segment = static_cast<int32_t>(r * static_cast<size_t>(padded + 1));
        const RowTokens row = assemble_row(rows[r], padded, reader, first_segment);
        const std::vector<std::vector<int32_t>> chunks = row_chunk_indices(row.segment_ids, sequence.layout, S);
        const std::vector<int32_t>& keep = chunks.at(static_cast<size_t>(sequence.sp_rank));
        if (static_cast<int64_t>(keep.size()) != padded / S)
            fail("make_token_batch: rank {} keeps {} tokens of a {}-token row, expected {}", sequence.sp_rank,
                 keep.size(), padded, padded / S);
        for (int32_t index : keep) {
            ids[out] = row.input_ids[index];
            positions[out] = row.position_ids[index];
            global[out] = index;
            segments[out] = row.segment_ids[index];
            labels[out] = row.targets[index];
            out++;
        }
        const std::vector<int64_t> pairs = attention_pairs_per_rank(row.segment_ids, chunks);
        for (size_t rank = 0; rank < chunks.size(); rank++) {
            batch.sp_attention_pairs[rank] += pairs[rank];
            ChunkRange& range = batch.sp_chunk_ranges[rank];
            const std::vector<int32_t>& chunk = chunks[rank];
            for (size_t i = 1; i < chunk.size(); i++)
                range.consecutive = range.consecutive && chunk[i] == chunk[i - 1] + 1;
            for (int32_t index : chunk) {
                range.index_min = std::min(range.index_min, index);
                range.index_max = std::max(range.index_max, index);
                range.segment_min = std::min(range.segment_min, row.segment_ids[index]);
                range.segment_max = std::max(range.segment_max, row.segment_ids[index]);
            }
        }
    }
    batch.input_id_range = range_of_ids(batch.input_ids, std::nullopt);
    batch.label_range = range_of_ids(batch.labels, ignore_label);
    if (rows.empty()) {
        batch.sp_chunk_ranges.clear();
        batch.sp_attention_pairs.clear();
    }
    return batch;
}

}  // namespace ringlm
