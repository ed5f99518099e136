// attention_merge: attention over a set of keys equals the merge of the attentions over any
// split of it into two disjoint parts (the identity ring attention rests on), and the -inf
// cases (a side, or both, that saw no key) are exact and never NaN.
#include "backend/backend.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace ringlm {
using namespace ringlm::testing;

namespace {

Tensor i32_tensor(const std::vector<int32_t>& values) {
    return from_vector(values, {static_cast<int64_t>(values.size())});
}

// Rows [index] of x [T, ...] gathered into a new tensor (host).
Tensor gather_rows(const Tensor& x, const std::vector<int32_t>& rows) {
    const int64_t width = x.numel() / x.size(0);
    Shape shape = x.shape();
    shape[0] = static_cast<int64_t>(rows.size());
    Tensor y = empty(shape, x.dtype());
    const size_t bytes = width * dtype_size(x.dtype());
    for (size_t r = 0; r < rows.size(); r++)
        std::memcpy(static_cast<char*>(y.raw()) + r * bytes, static_cast<const char*>(x.raw()) + rows[r] * bytes, bytes);
    return y;
}

// A packed row of documents 50, 1, 37, 1, 30, 21 tokens (140), causal self-attention, GQA
// 4/2. The keys are every token except documents 1 and 3 (the length-1 documents), so their
// queries see nothing in either part; the rest go at random to part a or part b, so many
// rows see keys on one side only.
void expect_split_merges_to_whole(DType dtype, double tolerance) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const std::vector<int32_t> documents{50, 1, 37, 1, 30, 21};
    std::vector<int32_t> segments, all_tokens;
    for (size_t d = 0; d < documents.size(); d++) segments.insert(segments.end(), documents[d], static_cast<int32_t>(d));
    const int64_t T = static_cast<int64_t>(segments.size()), H = 4, Hkv = 2, D = 32;
    for (int32_t t = 0; t < T; t++) all_tokens.push_back(t);
    std::vector<int32_t> keys, part_a, part_b;
    std::bernoulli_distribution coin(0.5);
    for (int32_t t = 0; t < T; t++) {
        if (segments[t] == 1 || segments[t] == 3) continue;
        keys.push_back(t);
        (coin(rng) ? part_a : part_b).push_back(t);
    }
    Tensor q = random_uniform({T, H, D}, dtype, rng, -2, 2), k = random_uniform({T, Hkv, D}, dtype, rng, -2, 2);
    Tensor v = random_uniform({T, Hkv, D}, dtype, rng);
    Tensor segment_tensor = i32_tensor(segments), index_tensor = i32_tensor(all_tokens);
    const double scale = 1.0 / std::sqrt(static_cast<double>(D));
    Backend& cpu = backend(q);

    // attention of every query against the keys `subset`
    auto attend = [&](const std::vector<int32_t>& subset, Tensor& out, Tensor& lse) {
        out = empty({T, H, D}, dtype);
        lse = empty({T, H}, dtype);
        std::vector<int32_t> subset_segments;
        for (int32_t t : subset) subset_segments.push_back(segments[t]);
        const AttentionMask mask{index_tensor, segment_tensor, i32_tensor(subset), i32_tensor(subset_segments), true,
                                 {}, {}};
        cpu.attention_block_forward(out, lse, q, gather_rows(k, subset), gather_rows(v, subset), mask, scale);
    };
    Tensor whole_out, whole_lse, out, lse, out_b, lse_b;
    attend(keys, whole_out, whole_lse);
    attend(part_a, out, lse);
    attend(part_b, out_b, lse_b);
    cpu.attention_merge(out, lse, out_b, lse_b);

    const std::string where = fmt::format("{}, {} keys in a, {} in b, seed {}", dtype_name(dtype), part_a.size(),
                                          part_b.size(), seed);
    EXPECT_LE(max_relative_error(out, whole_out), tolerance) << "out, " << where;
    EXPECT_LE(max_relative_error(lse, whole_lse), tolerance) << "lse, " << where;  // -inf rows must match exactly
    EXPECT_TRUE(all_finite(out)) << where;
    // the rows of documents 1 and 3 saw no key anywhere: out exactly 0, lse -inf
    const Tensor out64 = to_dtype(out, DType::f64), lse64 = to_dtype(lse, DType::f64);
    for (int32_t t : {50, 88}) {
        for (int64_t h = 0; h < H; h++) {
            EXPECT_EQ(lse64.data<double>()[t * H + h], -std::numeric_limits<double>::infinity()) << "row " << t << ", " << where;
            for (int64_t c = 0; c < D; c++) EXPECT_EQ(out64.data<double>()[(t * H + h) * D + c], 0.0) << where;
        }
    }
}

}  // namespace

TEST(AttentionMerge, F32SplitOfKeysMergesToWhole) { expect_split_merges_to_whole(DType::f32, 1e-6); }

TEST(AttentionMerge, F64SplitOfKeysMergesToWhole) { expect_split_merges_to_whole(DType::f64, 1e-13); }

// Known values, one row each (D = 2): equal large lse (no overflow), a dominant side, -inf on
// either side, -inf on both.
TEST(AttentionMerge, KnownValuesAndMinusInfinity) {
    const float inf = std::numeric_limits<float>::infinity();
    Tensor out = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 0, 0}, {5, 1, 2});
    Tensor lse = from_vector<float>({1000, 0, -inf, 3, -inf}, {5, 1});
    Tensor out_block = from_vector<float>({3, 6, 9, 10, 11, 12, 9, 9, 0, 0}, {5, 1, 2});
    Tensor lse_block = from_vector<float>({1000, -200, 2, -inf, -inf}, {5, 1});
    backend(out).attention_merge(out, lse, out_block, lse_block);
    const std::vector<float> merged_out = to_vector<float>(out), merged_lse = to_vector<float>(lse);

    // equal weights: lse + log 2, the mean of the outputs
    EXPECT_FLOAT_EQ(merged_lse[0], 1000.0f + std::log(2.0f));
    EXPECT_FLOAT_EQ(merged_out[0], 2.0f);
    EXPECT_FLOAT_EQ(merged_out[1], 4.0f);
    // block weight exp(-200) underflows in f32: the running side stays as it was
    EXPECT_FLOAT_EQ(merged_lse[1], 0.0f);
    EXPECT_FLOAT_EQ(merged_out[2], 3.0f);
    EXPECT_FLOAT_EQ(merged_out[3], 4.0f);
    // running side -inf: the block's values exactly
    EXPECT_EQ(merged_lse[2], 2.0f);
    EXPECT_EQ(merged_out[4], 11.0f);
    EXPECT_EQ(merged_out[5], 12.0f);
    // block side -inf: unchanged exactly
    EXPECT_EQ(merged_lse[3], 3.0f);
    EXPECT_EQ(merged_out[6], 7.0f);
    EXPECT_EQ(merged_out[7], 8.0f);
    // both -inf: out stays 0, lse stays -inf, no NaN
    EXPECT_EQ(merged_lse[4], -inf);
    EXPECT_EQ(merged_out[8], 0.0f);
    EXPECT_EQ(merged_out[9], 0.0f);
}

}  // namespace ringlm
