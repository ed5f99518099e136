// The document layout (ChunkLayout::document, load_balance: document) and the attention-work
// count (data/attention_work.h) on random packed rows:
//   - every layout hands every row's tokens out exactly once, P/S to each rank, in order;
//   - the document layout gives each rank pieces r and 2S-1-r of every document (after its
//     first L mod 2S tokens, dealt one per rank);
//   - the pair count equals a brute-force count over every (query, key) pair of the mask;
//   - a rank's labels and position ids are the whole row's at its global indices (targets
//     shifted before the cut, so a target that lives on another rank is kept);
//   - documents that 2S divides give every rank exactly equal work.
#include "data/attention_work.h"
#include "parallel/chunk_layout.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace ringlm {
using namespace ringlm::testing;

namespace {

constexpr ChunkLayout all_layouts[] = {ChunkLayout::contiguous, ChunkLayout::zigzag, ChunkLayout::striped,
                                       ChunkLayout::document};

// A row of `length` tokens: documents of random lengths (many shorter than 2S, some long),
// then padding, each a run of its own segment id.
std::vector<int32_t> random_row_segments(std::mt19937_64& rng, int64_t length) {
    std::vector<int32_t> segments;
    int32_t segment = 7;
    while (static_cast<int64_t>(segments.size()) < length) {
        const int64_t choice = static_cast<int64_t>(rng() % 4);
        const int64_t document = choice == 0 ? 1 + static_cast<int64_t>(rng() % 5)     // shorter than 2S
                                 : choice == 1 ? 40 + static_cast<int64_t>(rng() % 90)  // long
                                               : 1 + static_cast<int64_t>(rng() % 25);
        for (int64_t t = 0; t < document && static_cast<int64_t>(segments.size()) < length; t++)
            segments.push_back(segment);
        segment++;
    }
    return segments;
}

// The mask, pair by pair: query i sees key j iff same segment and j <= i (global indices).
std::vector<int64_t> brute_force_pairs(const std::vector<int32_t>& segments,
                                       const std::vector<std::vector<int32_t>>& chunks) {
    std::vector<int64_t> pairs;
    for (const std::vector<int32_t>& chunk : chunks) {
        int64_t visible = 0;
        for (int32_t query : chunk)
            for (size_t key = 0; key < segments.size(); key++)
                visible += segments[key] == segments[static_cast<size_t>(query)] && static_cast<int32_t>(key) <= query;
        pairs.push_back(visible);
    }
    return pairs;
}

// Rank r's share of the document [begin, end) in the document layout, L = m + 2S*q, m < 2S:
// at most two of the first m tokens, then exactly pieces r and 2S-1-r of q tokens each.
bool holds_its_head_and_tail(const std::vector<int32_t>& chunk, int64_t begin, int64_t end, int64_t S, int64_t r) {
    const int64_t q = (end - begin) / (2 * S), m = (end - begin) % (2 * S);
    std::vector<int32_t> dealt, pieces, expected;
    for (int32_t index : chunk) {
        if (index >= begin && index < begin + m) dealt.push_back(index);
        if (index >= begin + m && index < end) pieces.push_back(index);
    }
    for (int64_t p : {r, 2 * S - 1 - r})
        for (int64_t t = 0; t < q; t++) expected.push_back(static_cast<int32_t>(begin + m + p * q + t));
    return dealt.size() <= 2 && pieces == expected;
}

}  // namespace

TEST(LoadBalance, EveryLayoutHandsOutEveryTokenOnceInOrder) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    for (int64_t S = 1; S <= 8; S++) {
        for (ChunkLayout layout : all_layouts) {
            const int64_t P = padded_row_length(150 + static_cast<int64_t>(rng() % 200), SequenceLayout{layout, S, 0});
            const std::vector<int32_t> segments = random_row_segments(rng, P);
            const std::vector<std::vector<int32_t>> chunks = row_chunk_indices(segments, layout, S);
            ASSERT_EQ(chunks.size(), static_cast<size_t>(S));
            std::vector<int32_t> all;
            for (const std::vector<int32_t>& chunk : chunks) {
                EXPECT_EQ(static_cast<int64_t>(chunk.size()), P / S) << "layout " << static_cast<int>(layout) << " S " << S;
                EXPECT_TRUE(std::is_sorted(chunk.begin(), chunk.end()));
                all.insert(all.end(), chunk.begin(), chunk.end());
            }
            std::sort(all.begin(), all.end());
            std::vector<int32_t> expected(static_cast<size_t>(P));
            std::iota(expected.begin(), expected.end(), 0);
            EXPECT_EQ(all, expected) << "layout " << static_cast<int>(layout) << " S " << S;
            if (layout == ChunkLayout::document) continue;
            for (int64_t r = 0; r < S; r++) EXPECT_EQ(chunks[r], chunk_indices(P, SequenceLayout{layout, S, r}));
        }
    }
}

TEST(LoadBalance, DocumentLayoutGivesEachRankItsHeadAndTailPieces) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    for (int64_t S = 1; S <= 8; S++) {
        const int64_t P = padded_row_length(300, SequenceLayout{ChunkLayout::document, S, 0});
        const std::vector<int32_t> segments = random_row_segments(rng, P);
        const std::vector<std::vector<int32_t>> chunks = row_chunk_indices(segments, ChunkLayout::document, S);
        for (int64_t begin = 0, end = 0; begin < P; begin = end) {
            while (end < P && segments[end] == segments[begin]) end++;
            for (int64_t r = 0; r < S; r++)
                EXPECT_TRUE(holds_its_head_and_tail(chunks[r], begin, end, S, r))
                    << "S " << S << ", rank " << r << ", document [" << begin << ", " << end << ")";
        }
    }
}

TEST(LoadBalance, PairCountEqualsBruteForce) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    for (int64_t S : {1, 2, 3, 4, 8}) {
        for (ChunkLayout layout : all_layouts) {
            const int64_t P = padded_row_length(200, SequenceLayout{layout, S, 0});
            std::vector<int32_t> segments = random_row_segments(rng, P);
            const std::vector<std::vector<int32_t>> chunks = row_chunk_indices(segments, layout, S);
            EXPECT_EQ(attention_pairs_per_rank(segments, chunks), brute_force_pairs(segments, chunks));
            // the count reads the mask, not the layout of segments: scattered segment ids too
            std::shuffle(segments.begin(), segments.end(), rng);
            EXPECT_EQ(attention_pairs_per_rank(segments, chunks), brute_force_pairs(segments, chunks));
        }
    }
}

TEST(LoadBalance, DocumentsThatTwoSDividesGiveEqualWork) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    for (int64_t S : {2, 4, 8}) {
        std::vector<int32_t> segments;
        for (int32_t document = 0; document < 10; document++)
            segments.insert(segments.end(), static_cast<size_t>(2 * S * (1 + static_cast<int64_t>(rng() % 20))), document);
        const std::vector<int64_t> pairs =
            attention_pairs_per_rank(segments, row_chunk_indices(segments, ChunkLayout::document, S));
        for (int64_t r = 1; r < S; r++) EXPECT_EQ(pairs[r], pairs[0]) << "S " << S;
        EXPECT_EQ(attention_imbalance(pairs), 1.0);
        // one document, contiguous: rank S-1 does the most (its causal triangle and every earlier key)
        const std::vector<int32_t> one(static_cast<size_t>(64 * S), 0);
        const std::vector<int64_t> contiguous =
            attention_pairs_per_rank(one, row_chunk_indices(one, ChunkLayout::contiguous, S));
        const double c = 64;  // tokens per rank; rank r: c*r*c + c(c+1)/2 pairs
        const double total = S * c * (S * c + 1) / 2;
        EXPECT_DOUBLE_EQ(attention_imbalance(contiguous), ((S - 1) * c * c + c * (c + 1) / 2) * S / total);
    }
    EXPECT_EQ(attention_imbalance({}), 1.0);
    EXPECT_EQ(attention_imbalance({0, 0}), 1.0);
    EXPECT_DOUBLE_EQ(attention_imbalance({3, 1}), 1.5);
}

// Whatever the lengths, each document leaves at most its first L mod 2S tokens unevenly spread,
// each seeing fewer than 2S keys: the ranks' work differs by less than 2S^2 pairs per document.
TEST(LoadBalance, DocumentLayoutBoundsTheImbalancePerDocument) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    for (int64_t S : {2, 3, 4, 8}) {
        for (int trial = 0; trial < 20; trial++) {
            const int64_t P = padded_row_length(400, SequenceLayout{ChunkLayout::document, S, 0});
            const std::vector<int32_t> segments = random_row_segments(rng, P);
            const std::vector<int64_t> pairs =
                attention_pairs_per_rank(segments, row_chunk_indices(segments, ChunkLayout::document, S));
            int64_t documents = 1;
            for (size_t t = 1; t < segments.size(); t++) documents += segments[t] != segments[t - 1];
            const auto [least, most] = std::minmax_element(pairs.begin(), pairs.end());
            EXPECT_LT(*most - *least, documents * 2 * S * S) << "S " << S;
        }
    }
}

// make_token_batch under the document layout: each rank's labels and position ids are the whole
// row's (S = 1) at its global indices, and sp_attention_pairs equals a brute-force count over
// the rows put back together from every rank's tensors.
TEST(LoadBalance, DocumentBatchKeepsTheWholeRowsTargets) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    const int64_t sequence_len = 61, n_rows = 2;
    std::vector<DocumentTokens> documents;
    std::vector<PackedRow> rows(n_rows);
    for (PackedRow& row : rows) {
        const int64_t fill = sequence_len - static_cast<int64_t>(rng() % 6);
        while (row.used < fill) {
            const int64_t length = std::min<int64_t>(1 + static_cast<int64_t>(rng() % 19), fill - row.used);
            DocumentTokens document;
            for (int64_t t = 0; t < length + 2; t++) document.input_ids.push_back(static_cast<int32_t>(rng() % 500));
            documents.push_back(document);
            // a piece that ends before its document does: its last token's target is the next token
            row.pieces.push_back(DocumentPiece{static_cast<int64_t>(documents.size()) - 1, 1, length});
            row.used += length;
        }
    }
    const DocumentReader reader = [&](int64_t d) { return documents[static_cast<size_t>(d)]; };
    const TokenBatch whole = make_token_batch(rows, sequence_len, reader, SequenceLayout{});
    for (int64_t S : {2, 3, 4}) {
        const int64_t P = padded_row_length(sequence_len, SequenceLayout{ChunkLayout::document, S, 0});
        std::vector<TokenBatch> batches;
        std::vector<std::vector<int32_t>> row_segments(n_rows, std::vector<int32_t>(static_cast<size_t>(P), -1));
        for (int64_t r = 0; r < S; r++) {
            batches.push_back(make_token_batch(rows, sequence_len, reader, SequenceLayout{ChunkLayout::document, S, r}));
            const TokenBatch& mine = batches.back();
            ASSERT_EQ(mine.tokens(), n_rows * P / S);
            for (int64_t t = 0; t < mine.tokens(); t++) {
                const int64_t row = t / (P / S), index = mine.global_index.data<int32_t>()[t];
                row_segments[row][static_cast<size_t>(index)] = mine.segment_ids.data<int32_t>()[t];
                if (index >= sequence_len) {  // padding past sequence_len (P rounds up to a multiple of S)
                    EXPECT_EQ(mine.labels.data<int32_t>()[t], -100);
                    continue;
                }
                const int64_t at = row * sequence_len + index;
                EXPECT_EQ(mine.input_ids.data<int32_t>()[t], whole.input_ids.data<int32_t>()[at]);
                EXPECT_EQ(mine.labels.data<int32_t>()[t], whole.labels.data<int32_t>()[at]) << "S " << S << " t " << t;
                EXPECT_EQ(mine.position_ids.data<int32_t>()[t], whole.position_ids.data<int32_t>()[at]);
            }
        }
        for (int64_t r = 0; r < S; r++) {
            int64_t expected = 0;
            for (int64_t row = 0; row < n_rows; row++) {
                std::vector<int32_t> indices;
                for (int64_t t = row * (P / S); t < (row + 1) * (P / S); t++)
                    indices.push_back(batches[r].global_index.data<int32_t>()[t]);
                expected += brute_force_pairs(row_segments[row], {indices})[0];
            }
            for (int64_t other = 0; other < S; other++)
                EXPECT_EQ(batches[other].sp_attention_pairs.at(r), expected) << "S " << S << ", rank " << r;
        }
    }
}

}  // namespace ringlm
