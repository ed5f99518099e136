// TokenBatch::sp_chunk_ranges: every SP rank's global-index and segment-id ranges, which ring
// attention trusts to skip blocks without reading them; and the batch's id and label ranges,
// which the embedding and the loss trust to check device tensors without reading them. Checked against what each rank's own
// batch actually holds (its tensors), for every layout and S = 1..4 on random packed rows.
#include "parallel/chunk_layout.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ringlm {
using namespace ringlm::testing;

namespace {

ChunkRange range_of_tensors(const TokenBatch& batch) {
    const int32_t* index = batch.global_index.data<int32_t>();
    const int32_t* segment = batch.segment_ids.data<int32_t>();
    const int64_t T = batch.tokens();
    return {*std::min_element(index, index + T), *std::max_element(index, index + T),
            *std::min_element(segment, segment + T), *std::max_element(segment, segment + T)};
}

}  // namespace

TEST(ChunkRanges, EqualWhatEachRankHolds) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    const int64_t sequence_len = 37;  // not a multiple of any 2S: padding on every layout
    // Random documents, packed into 3 rows of pieces (some rows not full).
    std::vector<std::vector<int32_t>> documents;
    std::vector<PackedRow> rows(3);
    for (PackedRow& row : rows) {
        const int64_t fill = 1 + static_cast<int64_t>(rng() % sequence_len);
        while (row.used < fill) {
            const int64_t length = std::min<int64_t>(1 + static_cast<int64_t>(rng() % 12), fill - row.used);
            std::vector<int32_t> tokens(static_cast<size_t>(length));
            for (int32_t& token : tokens) token = static_cast<int32_t>(rng() % 1000);
            documents.push_back(tokens);
            row.pieces.push_back(DocumentPiece{static_cast<int64_t>(documents.size()) - 1, 0, length});
            row.used += length;
        }
    }
    const DocumentReader reader = [&](int64_t d) { return DocumentTokens{documents[static_cast<size_t>(d)], {}}; };

    for (const ChunkLayout layout :
         {ChunkLayout::contiguous, ChunkLayout::zigzag, ChunkLayout::striped, ChunkLayout::document}) {
        for (int64_t S = 1; S <= 4; S++) {
            std::vector<TokenBatch> batches;
            for (int64_t rank = 0; rank < S; rank++)
                batches.push_back(make_token_batch(rows, sequence_len, reader, SequenceLayout{layout, S, rank}));
            for (int64_t rank = 0; rank < S; rank++) {
                // the id and label ranges the model checks device tensors by: those of its own tensors
                const TokenBatch& batch = batches[rank];
                const int32_t* ids = batch.input_ids.data<int32_t>();
                const auto [id_min, id_max] = std::minmax_element(ids, ids + batch.tokens());
                ASSERT_TRUE(batch.input_id_range && batch.label_range);
                EXPECT_EQ(batch.input_id_range->min, *id_min);
                EXPECT_EQ(batch.input_id_range->max, *id_max);
                std::vector<int32_t> labels;
                for (int64_t t = 0; t < batch.tokens(); t++)
                    if (batch.labels.data<int32_t>()[t] != -100) labels.push_back(batch.labels.data<int32_t>()[t]);
                if (labels.empty()) {
                    EXPECT_TRUE(batch.label_range->empty());  // a chunk of padding only
                } else {
                    EXPECT_EQ(batch.label_range->min, *std::min_element(labels.begin(), labels.end()));
                    EXPECT_EQ(batch.label_range->max, *std::max_element(labels.begin(), labels.end()));
                }
                ASSERT_EQ(batches[rank].sp_chunk_ranges.size(), static_cast<size_t>(S));
                for (int64_t owner = 0; owner < S; owner++) {
                    const ChunkRange expected = range_of_tensors(batches[owner]);
                    const ChunkRange& got = batches[rank].sp_chunk_ranges[owner];
                    SCOPED_TRACE(::testing::Message() << "layout " << static_cast<int>(layout) << ", S " << S
                                                      << ", rank " << rank << ", owner " << owner);
                    EXPECT_EQ(got.index_min, expected.index_min);
                    EXPECT_EQ(got.index_max, expected.index_max);
                    EXPECT_EQ(got.segment_min, expected.segment_min);
                    EXPECT_EQ(got.segment_max, expected.segment_max);
                }
            }
        }
    }
}

}  // namespace ringlm
