// tiles_may_interact (backend/attention_tiles.h): the rule by which the CPU attention kernel,
// the CUDA f32 and tensor-core kernels and ring attention skip a pair of tiles (or blocks)
// without reading them. Checked by brute force over fresh random tiles of every kind the ring
// layouts make (contiguous, striped, zigzag-like jumps, shuffled indices; one document, packed
// documents, random segments): it is never false for a pair that holds a visible pair, and for
// one document with contiguous indices (the common case) it is exact, so it does skip. And
// concatenation, the host facts of parts laid end to end (all-gathered K/V, Ulysses' row).
#include "backend/attention_tiles.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace ringlm {
using namespace ringlm::testing;

namespace {

struct Tokens {
    std::vector<int32_t> index, segment;
};

// `count` tokens of a 512-token row: their global indices by `kind` and segment ids by
// `documents` (0: one document; 1: packed documents, segment = index / 40; 2: random of 3).
Tokens random_tokens(std::mt19937_64& rng, int kind, int documents) {
    const int count = 1 + static_cast<int>(rng() % 64);
    const int32_t start = static_cast<int32_t>(rng() % 400);
    Tokens tokens;
    for (int i = 0; i < count; i++) {
        int32_t index = 0;
        if (kind == 0) index = start + i;                                             // contiguous
        if (kind == 1) index = start / 4 + 4 * i + static_cast<int32_t>(rng() % 2);  // striped
        if (kind == 2) index = i < count / 2 ? start + i : 511 - i;                  // zigzag: two chunks
        if (kind == 3) index = static_cast<int32_t>(rng() % 512);                    // shuffled
        tokens.index.push_back(index);
        tokens.segment.push_back(documents == 0 ? 7 : documents == 1 ? index / 40 : static_cast<int32_t>(rng() % 3));
    }
    return tokens;
}

TokenRanges ranges_of(const Tokens& tokens) {
    const auto [index_min, index_max] = std::minmax_element(tokens.index.begin(), tokens.index.end());
    const auto [segment_min, segment_max] = std::minmax_element(tokens.segment.begin(), tokens.segment.end());
    return {*index_min, *index_max, *segment_min, *segment_max};
}

// backend.h's visibility rule, pair by pair.
bool any_visible(const Tokens& queries, const Tokens& keys, bool causal) {
    for (size_t i = 0; i < queries.index.size(); i++)
        for (size_t j = 0; j < keys.index.size(); j++)
            if (queries.segment[i] == keys.segment[j] && (!causal || keys.index[j] <= queries.index[i])) return true;
    return false;
}

}  // namespace

TEST(AttentionTiles, NeverSkipsAVisiblePairAndIsExactForOneContiguousDocument) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int skipped = 0, exact_cases = 0;
    for (int trial = 0; trial < 20000; trial++) {
        const int kind = static_cast<int>(rng() % 4), documents = static_cast<int>(rng() % 3);
        const bool causal = rng() % 4 != 0;
        const Tokens queries = random_tokens(rng, kind, documents), keys = random_tokens(rng, kind, documents);
        const bool visible = any_visible(queries, keys, causal);
        const bool may_interact = tiles_may_interact(ranges_of(queries), ranges_of(keys), causal);
        if (visible) {
            ASSERT_TRUE(may_interact) << "trial " << trial << ": a visible pair would be skipped";
        }
        skipped += may_interact ? 0 : 1;
        if (kind == 0 && documents == 0) {
            exact_cases++;
            ASSERT_EQ(may_interact, visible) << "trial " << trial << ": one contiguous document";
        }
    }
    EXPECT_GT(skipped, 1000);  // the rule skips: future keys, other documents
    EXPECT_GT(exact_cases, 1000);
}

TEST(AttentionTiles, SkipsFutureKeysAndOtherDocumentsOnly) {
    const TokenRanges first{0, 63, 0, 0}, second{64, 127, 0, 0}, second_other_document{64, 127, 1, 1};
    EXPECT_TRUE(tiles_may_interact(second, first, true));    // earlier keys
    EXPECT_FALSE(tiles_may_interact(first, second, true));   // later keys, causal
    EXPECT_TRUE(tiles_may_interact(first, second, false));   // later keys, bidirectional
    EXPECT_FALSE(tiles_may_interact(second_other_document, first, false));
    EXPECT_TRUE(tiles_may_interact(TokenRanges{64, 127, 0, 1}, first, true));  // overlapping segments
}

// concatenation (an all-gather's host facts) against a scan of the parts laid end to end: fresh
// random parts, each a consecutive run that follows the one before, one that starts elsewhere
// (before it, after a gap, or overlapping), or scattered indices.
TEST(AttentionTiles, ConcatenationIsConsecutiveOnlyWhenThePartsFollowOneAnother) {
    const uint64_t seed = fresh_seed();
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    int consecutive_wholes = 0, broken_wholes = 0;
    for (int trial = 0; trial < 20000; trial++) {
        const int count = 1 + static_cast<int>(rng() % 4);
        std::vector<KnownTokens> parts;
        std::vector<int32_t> whole, segments;
        int32_t next = static_cast<int32_t>(rng() % 100);
        for (int p = 0; p < count; p++) {
            const int length = 1 + static_cast<int>(rng() % 6);
            const int kind = static_cast<int>(rng() % 4);
            const int32_t start = kind == 0 ? next : static_cast<int32_t>(rng() % 120);
            std::vector<int32_t> index;
            for (int i = 0; i < length; i++)
                index.push_back(kind == 3 ? static_cast<int32_t>(rng() % 120) : start + static_cast<int32_t>(i));
            const int32_t segment = static_cast<int32_t>(rng() % 2);
            bool consecutive = true;
            for (size_t i = 1; i < index.size(); i++) consecutive = consecutive && index[i] == index[i - 1] + 1;
            const auto [low, high] = std::minmax_element(index.begin(), index.end());
            parts.push_back(KnownTokens{{*low, *high, segment, segment}, consecutive});
            whole.insert(whole.end(), index.begin(), index.end());
            segments.insert(segments.end(), index.size(), segment);
            next = index.back() + 1;
        }
        bool consecutive = true;
        for (size_t i = 1; i < whole.size(); i++) consecutive = consecutive && whole[i] == whole[i - 1] + 1;
        const KnownTokens got = concatenation(parts.data(), count);
        ASSERT_EQ(got.consecutive, consecutive) << "trial " << trial;
        const auto [index_min, index_max] = std::minmax_element(whole.begin(), whole.end());
        const auto [segment_min, segment_max] = std::minmax_element(segments.begin(), segments.end());
        ASSERT_EQ(got.index_min, *index_min);
        ASSERT_EQ(got.index_max, *index_max);
        ASSERT_EQ(got.segment_min, *segment_min);
        ASSERT_EQ(got.segment_max, *segment_max);
        (consecutive && count > 1 ? consecutive_wholes : broken_wholes)++;
    }
    EXPECT_GT(consecutive_wholes, 100);
    EXPECT_GT(broken_wholes, 100);
}

}  // namespace ringlm
