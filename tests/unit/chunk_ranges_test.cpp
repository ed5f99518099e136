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

// --- what cuDNN's dispatch decides from: mask_kind of the batch's host data ---------------------

namespace ringlm {
using namespace ringlm::testing;

namespace {

struct BlockTokens {
    std::vector<int32_t> index, segment;
};

BlockTokens tokens_of(const TokenBatch& batch) {
    const int32_t* index = batch.global_index.data<int32_t>();
    const int32_t* segment = batch.segment_ids.data<int32_t>();
    return {{index, index + batch.tokens()}, {segment, segment + batch.tokens()}};
}

// The facts as the device reduction (cuda/attention_layout.cu classify_mask_kernel) finds them
// in the tensors: every segment equal to the first query's, index[i] == index[0] + i, extremes.
MaskFacts facts_of_tensors(const BlockTokens& q, const BlockTokens& k) {
    MaskFacts facts{true, true, true, q.index[0], k.index[0], k.index[0]};
    for (size_t i = 0; i < q.index.size(); i++) {
        facts.one_segment = facts.one_segment && q.segment[i] == q.segment[0];
        facts.q_consecutive = facts.q_consecutive && q.index[i] == q.index[0] + static_cast<int32_t>(i);
        facts.q_min = std::min(facts.q_min, q.index[i]);
    }
    for (size_t j = 0; j < k.index.size(); j++) {
        facts.one_segment = facts.one_segment && k.segment[j] == q.segment[0];
        facts.k_consecutive = facts.k_consecutive && k.index[j] == k.index[0] + static_cast<int32_t>(j);
        facts.k_min = std::min(facts.k_min, k.index[j]);
        facts.k_max = std::max(facts.k_max, k.index[j]);
    }
    return facts;
}

// What the kind promises, pair by pair against backend.h's rule (same segment and, causal,
// k_index <= q_index): all_visible: every pair visible; diagonal: visible iff key position j <=
// query position i (cuDNN's top-left causal mask).
void expect_kind_holds(MaskKind kind, const BlockTokens& q, const BlockTokens& k) {
    if (kind != MaskKind::all_visible && kind != MaskKind::diagonal) return;
    for (size_t i = 0; i < q.index.size(); i++)
        for (size_t j = 0; j < k.index.size(); j++) {
            const bool visible = q.segment[i] == k.segment[j] && k.index[j] <= q.index[i];
            ASSERT_EQ(visible, kind == MaskKind::all_visible || j <= i) << "query " << i << ", key " << j;
        }
}

BlockTokens laid_end_to_end(const std::vector<TokenBatch>& batches) {
    BlockTokens whole;
    for (const TokenBatch& batch : batches) {
        const BlockTokens part = tokens_of(batch);
        whole.index.insert(whole.index.end(), part.index.begin(), part.index.end());
        whole.segment.insert(whole.segment.end(), part.segment.begin(), part.segment.end());
    }
    return whole;
}

}  // namespace

// For every layout, S = 1..4, one row (one document filling it, one with padding, packed
// documents) or two: the kind cuDNN's dispatch takes from the batch's chunk ranges equals the
// kind the device finds in the tensors, for every ring block (queries of rank r, keys of rank j),
// the all-gathered keys (varlen_llama3), the gathered row (Ulysses) and USP's ring-group rows
// against each other (U = 2 of S = 4); and where it says
// all_visible or diagonal, that is the mask pair by pair. Every kind occurs.
TEST(ChunkRanges, MaskKindFromTheBatchEqualsTheTensors) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    const int64_t sequence_len = 48;  // a multiple of every 2S: a full document has no padding
    std::vector<std::vector<int32_t>> documents;
    const auto document = [&](int64_t length) {
        std::vector<int32_t> tokens(static_cast<size_t>(length));
        for (int32_t& token : tokens) token = static_cast<int32_t>(rng() % 1000);
        documents.push_back(tokens);
        return DocumentPiece{static_cast<int64_t>(documents.size()) - 1, 0, length};
    };
    const auto packed_row = [&] {
        PackedRow row;
        while (row.used < sequence_len - 3) {
            const int64_t length = std::min<int64_t>(1 + static_cast<int64_t>(rng() % 20), sequence_len - 3 - row.used);
            row.pieces.push_back(document(length));
            row.used += length;
        }
        return row;
    };
    const std::vector<std::vector<PackedRow>> batches_of_rows = {
        {PackedRow{{document(sequence_len)}, sequence_len}},
        {PackedRow{{document(sequence_len - 5)}, sequence_len - 5}},
        {packed_row()},
        {PackedRow{{document(sequence_len)}, sequence_len}, packed_row()},
    };
    const DocumentReader reader = [&](int64_t d) { return DocumentTokens{documents[static_cast<size_t>(d)], {}}; };

    int kinds_seen[4] = {0, 0, 0, 0};
    const auto check = [&](const KnownTokens& known_q, const KnownTokens& known_k, const BlockTokens& q,
                           const BlockTokens& k) {
        const auto Tq = static_cast<int64_t>(q.index.size()), Tk = static_cast<int64_t>(k.index.size());
        const MaskKind kind = mask_kind(mask_facts(known_q, known_k), Tq, Tk, true);
        EXPECT_EQ(kind, mask_kind(facts_of_tensors(q, k), Tq, Tk, true));
        expect_kind_holds(kind, q, k);
        kinds_seen[static_cast<int>(kind)]++;
    };
    for (const std::vector<PackedRow>& rows : batches_of_rows) {
        for (const ChunkLayout layout :
             {ChunkLayout::contiguous, ChunkLayout::zigzag, ChunkLayout::striped, ChunkLayout::document}) {
            for (int64_t S = 1; S <= 4; S++) {
                SCOPED_TRACE(::testing::Message() << rows.size() << " row(s), " << rows[0].pieces.size()
                                                  << " documents in the first, layout " << static_cast<int>(layout)
                                                  << ", S " << S);
                std::vector<TokenBatch> batches;
                for (int64_t rank = 0; rank < S; rank++)
                    batches.push_back(make_token_batch(rows, sequence_len, reader, SequenceLayout{layout, S, rank}));
                const std::vector<ChunkRange>& known = batches[0].sp_chunk_ranges;
                for (int64_t r = 0; r < S; r++) {
                    const BlockTokens q = tokens_of(batches[r]);
                    bool consecutive = rows.size() == 1;
                    for (size_t i = 1; i < q.index.size(); i++)
                        consecutive = consecutive && q.index[i] == q.index[i - 1] + 1;
                    EXPECT_EQ(known[r].consecutive, consecutive) << "rank " << r;
                    for (int64_t j = 0; j < S; j++) check(known[r], known[j], q, tokens_of(batches[j]));
                    check(known[r], concatenation(known.data(), S), q, laid_end_to_end(batches));
                }
                const KnownTokens row = concatenation(known.data(), S);
                check(row, row, laid_end_to_end(batches), laid_end_to_end(batches));
                // USP, 1 < U < S: ring-group member j holds SP ranks [jU, jU + U) laid end to end
                for (int64_t U = 2; U < S; U++) {
                    if (S % U != 0) continue;
                    std::vector<KnownTokens> members;
                    std::vector<BlockTokens> member_tokens;
                    for (int64_t first = 0; first < S; first += U) {
                        members.push_back(concatenation(&known[first], U));
                        member_tokens.push_back(
                            laid_end_to_end({batches.begin() + first, batches.begin() + first + U}));
                    }
                    for (size_t r = 0; r < members.size(); r++)
                        for (size_t j = 0; j < members.size(); j++)
                            check(members[r], members[j], member_tokens[r], member_tokens[j]);
                }
            }
        }
    }
    for (const MaskKind kind : {MaskKind::segmented, MaskKind::all_visible, MaskKind::diagonal, MaskKind::other})
        EXPECT_GT(kinds_seen[static_cast<int>(kind)], 0) << "kind " << static_cast<int>(kind) << " never occurred";
}

}  // namespace ringlm
