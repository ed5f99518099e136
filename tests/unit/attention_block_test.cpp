// The attention block kernels against a naive f64 reference that materialises the scores
// matrix and applies the mask pair by pair (shares no code with the kernel), on the layouts
// ring attention produces: packed documents, GQA, zigzag / striped / shifted index sets,
// tiles that are wholly invisible, rows that see no key, Tq != Tk.
#include "ops/ops.h"
#include "tensor/allocator.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace ringlm {
using namespace ringlm::testing;

namespace {

// --- the naive f64 reference ----------------------------------------------------------

struct Reference {
    std::vector<double> out, lse, dq, dk, dv;
};

// Everything materialised: scores[i][j] for one head, -inf where invisible.
Reference attention_reference(const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, const std::vector<double>& dout,
                              const std::vector<int32_t>& q_index, const std::vector<int32_t>& q_segment,
                              const std::vector<int32_t>& k_index, const std::vector<int32_t>& k_segment,
                              bool causal, int64_t H, int64_t Hkv, int64_t D, double scale) {
    const int64_t Tq = static_cast<int64_t>(q_index.size()), Tk = static_cast<int64_t>(k_index.size());
    Reference ref;
    ref.out.assign(Tq * H * D, 0.0);
    ref.lse.assign(Tq * H, -INFINITY);
    ref.dq.assign(Tq * H * D, 0.0);
    ref.dk.assign(Tk * Hkv * D, 0.0);
    ref.dv.assign(Tk * Hkv * D, 0.0);
    auto at_q = [&](int64_t t, int64_t h) { return (t * H + h) * D; };
    auto at_k = [&](int64_t t, int64_t h) { return (t * Hkv + h) * D; };
    for (int64_t h = 0; h < H; h++) {
        const int64_t hk = h / (H / Hkv);
        std::vector<std::vector<double>> probabilities(Tq, std::vector<double>(Tk, 0.0));
        for (int64_t i = 0; i < Tq; i++) {
            std::vector<double> scores(Tk, -INFINITY);
            double max_score = -INFINITY;
            for (int64_t j = 0; j < Tk; j++) {
                const bool visible = q_segment[i] == k_segment[j] && (!causal || k_index[j] <= q_index[i]);
                if (!visible) continue;
                double dot = 0;
                for (int64_t c = 0; c < D; c++) dot += q[at_q(i, h) + c] * k[at_k(j, hk) + c];
                scores[j] = scale * dot;
                max_score = std::max(max_score, scores[j]);
            }
            if (max_score == -INFINITY) continue;  // no visible key: out 0, lse -inf
            double total = 0;
            for (int64_t j = 0; j < Tk; j++) total += std::exp(scores[j] - max_score);
            ref.lse[i * H + h] = max_score + std::log(total);
            for (int64_t j = 0; j < Tk; j++) {
                probabilities[i][j] = std::exp(scores[j] - ref.lse[i * H + h]);
                for (int64_t c = 0; c < D; c++) ref.out[at_q(i, h) + c] += probabilities[i][j] * v[at_k(j, hk) + c];
            }
        }
        for (int64_t i = 0; i < Tq; i++) {
            double delta = 0;
            for (int64_t c = 0; c < D; c++) delta += dout[at_q(i, h) + c] * ref.out[at_q(i, h) + c];
            for (int64_t j = 0; j < Tk; j++) {
                const double p = probabilities[i][j];
                if (p == 0) continue;
                double dp = 0;
                for (int64_t c = 0; c < D; c++) dp += dout[at_q(i, h) + c] * v[at_k(j, hk) + c];
                const double ds = p * (dp - delta);
                for (int64_t c = 0; c < D; c++) {
                    ref.dv[at_k(j, hk) + c] += p * dout[at_q(i, h) + c];
                    ref.dq[at_q(i, h) + c] += scale * ds * k[at_k(j, hk) + c];
                    ref.dk[at_k(j, hk) + c] += scale * ds * q[at_q(i, h) + c];
                }
            }
        }
    }
    return ref;
}

// --- index layouts --------------------------------------------------------------------

// Segment id of every token of a packed row made of documents of these lengths.
std::vector<int32_t> packed_segments(const std::vector<int32_t>& document_lengths) {
    std::vector<int32_t> segments;
    for (size_t document = 0; document < document_lengths.size(); document++)
        segments.insert(segments.end(), document_lengths[document], static_cast<int32_t>(document));
    return segments;
}

std::vector<int32_t> range(int32_t begin, int32_t end) {
    std::vector<int32_t> indices(end - begin);
    std::iota(indices.begin(), indices.end(), begin);
    return indices;
}

// Zigzag chunks r and 2S-1-r of a row cut into 2S chunks of `chunk` tokens.
std::vector<int32_t> zigzag(int32_t rank, int32_t degree, int32_t chunk) {
    std::vector<int32_t> indices = range(rank * chunk, (rank + 1) * chunk);
    std::vector<int32_t> mirror = range((2 * degree - 1 - rank) * chunk, (2 * degree - rank) * chunk);
    indices.insert(indices.end(), mirror.begin(), mirror.end());
    return indices;
}

// Every `degree`-th token starting at `rank`, `count` tokens.
std::vector<int32_t> striped(int32_t rank, int32_t degree, int32_t count) {
    std::vector<int32_t> indices(count);
    for (int32_t t = 0; t < count; t++) indices[t] = rank + degree * t;
    return indices;
}

struct Case {
    const char* name;
    int64_t H, Hkv, D;
    bool causal;
    std::vector<int32_t> row_segments;  // segment id of each token of the whole row
    std::vector<int32_t> q_index, k_index;
};

Tensor i32_tensor(const std::vector<int32_t>& values) {
    return from_vector(values, {static_cast<int64_t>(values.size())});
}

AttentionMask mask_of(const Case& c) {
    std::vector<int32_t> q_segment, k_segment;
    for (int32_t index : c.q_index) q_segment.push_back(c.row_segments.at(index));
    for (int32_t index : c.k_index) k_segment.push_back(c.row_segments.at(index));
    return {i32_tensor(c.q_index), i32_tensor(q_segment), i32_tensor(c.k_index), i32_tensor(k_segment), c.causal,
            {}, {}};
}

std::vector<double> as_f64(const Tensor& x) { return to_vector<double>(to_dtype(x, DType::f64)); }
Tensor tensor_f64(const std::vector<double>& values, Shape shape) { return from_vector(values, shape); }

// The kernel in `dtype` against the reference: out, lse, dq, dk, dv, every element.
void expect_matches_reference(const Case& c, DType dtype, double tolerance) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const int64_t Tq = static_cast<int64_t>(c.q_index.size()), Tk = static_cast<int64_t>(c.k_index.size());
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    // values rounded to the kernel's dtype first, so both see the same inputs
    Tensor q = random_uniform({Tq, c.H, c.D}, dtype, rng, -2, 2), k = random_uniform({Tk, c.Hkv, c.D}, dtype, rng, -2, 2);
    Tensor v = random_uniform({Tk, c.Hkv, c.D}, dtype, rng), dout = random_uniform({Tq, c.H, c.D}, dtype, rng);
    const AttentionMask mask = mask_of(c);

    Tensor out = empty({Tq, c.H, c.D}, dtype), lse = empty({Tq, c.H}, dtype);
    Tensor dq = zeros({Tq, c.H, c.D}, dtype), dk = zeros({Tk, c.Hkv, c.D}, dtype), dv = zeros({Tk, c.Hkv, c.D}, dtype);
    Backend& cpu = backend(q);
    cpu.attention_block_forward(out, lse, q, k, v, mask, scale);
    cpu.attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);

    std::vector<int32_t> q_segment = to_vector<int32_t>(mask.q_segment), k_segment = to_vector<int32_t>(mask.k_segment);
    const Reference ref = attention_reference(as_f64(q), as_f64(k), as_f64(v), as_f64(dout), c.q_index, q_segment,
                                              c.k_index, k_segment, c.causal, c.H, c.Hkv, c.D, scale);
    const std::string where = fmt::format("{} ({}), seed {}", c.name, dtype_name(dtype), seed);
    EXPECT_LE(max_relative_error(out, tensor_f64(ref.out, out.shape())), tolerance) << "out, " << where;
    EXPECT_LE(max_relative_error(lse, tensor_f64(ref.lse, lse.shape())), tolerance) << "lse, " << where;
    EXPECT_LE(max_relative_error(dq, tensor_f64(ref.dq, dq.shape())), tolerance) << "dq, " << where;
    EXPECT_LE(max_relative_error(dk, tensor_f64(ref.dk, dk.shape())), tolerance) << "dk, " << where;
    EXPECT_LE(max_relative_error(dv, tensor_f64(ref.dv, dv.shape())), tolerance) << "dv, " << where;
    EXPECT_TRUE(all_finite(out) && all_finite(dq) && all_finite(dk) && all_finite(dv)) << where;
}

// Documents of 70, 1, 90, 1, 40 tokens: a length-1 document, and documents long enough that
// whole 64 x 64 tiles fall between two documents and are skipped.
const std::vector<int32_t> documents{70, 1, 90, 1, 40};
// 1100 tokens, 18 key tiles: backward walks key tiles in blocks of 8, so this takes three
// blocks, the last one partial (and more with several threads, where each split owns every
// splits-th tile).
const std::vector<int32_t> long_documents{300, 1, 500, 299};

std::vector<Case> cases() {
    const std::vector<int32_t> packed = packed_segments(documents);  // 202 tokens
    const std::vector<int32_t> one_document(400, 0);
    const std::vector<int32_t> long_packed = packed_segments(long_documents);
    return {
        {"causal, packed documents over 18 key tiles, GQA 2/1", 2, 1, 16, true, long_packed, range(0, 1100),
         range(0, 1100)},
        {"causal, packed documents, GQA 4/2", 4, 2, 32, true, packed, range(0, 202), range(0, 202)},
        {"bidirectional, packed documents, GQA 4/1", 4, 1, 16, false, packed, range(0, 202), range(0, 202)},
        {"causal, zigzag rank 0 against rank 1, Tq != Tk", 4, 2, 32, true, one_document, zigzag(0, 2, 40),
         zigzag(1, 2, 60)},
        {"causal, zigzag packed: rank 1 queries, all keys", 4, 2, 16, true, packed, zigzag(1, 2, 50), range(0, 200)},
        {"causal, striped rank 2 against rank 1 of 3", 4, 1, 32, true, one_document, striped(2, 3, 130),
         striped(1, 3, 130)},
        {"causal, keys all earlier (unmasked block)", 4, 2, 16, true, one_document, range(150, 280), range(0, 150)},
        {"causal, keys all later (nothing visible)", 4, 2, 16, true, one_document, range(0, 100), range(100, 230)},
        {"causal, last 70 queries against the whole row", 2, 2, 24, true, packed, range(132, 202), range(0, 202)},
        {"causal, one query (decoding: a tile of 8 rows)", 4, 2, 32, true, one_document, range(199, 200),
         range(0, 200)},
        {"causal, 20 queries (a tile of 24 rows)", 4, 2, 16, true, packed, range(182, 202),
         range(0, 202)},
        {"bidirectional, keys of other documents only (rows see nothing)", 4, 2, 16, false, packed, range(0, 202),
         range(71, 161)},
    };
}

}  // namespace

TEST(AttentionBlock, F32MatchesReference) {
    for (const Case& c : cases()) expect_matches_reference(c, DType::f32, 1e-5);
}

TEST(AttentionBlock, F64MatchesReference) {
    for (const Case& c : cases()) expect_matches_reference(c, DType::f64, 1e-11);
}

TEST(AttentionBlock, RowsWithoutKeysGiveZeroAndMinusInfinity) {
    // queries of documents 0, 1, 3, 4 see no key of document 2: out 0, lse -inf, gradients 0
    Case c{"", 2, 1, 16, false, packed_segments(documents), range(0, 202), range(71, 161)};
    std::mt19937_64 rng(fresh_seed());
    const int64_t Tq = 202, Tk = 90;
    Tensor q = random_uniform({Tq, 2, 16}, DType::f32, rng), k = random_uniform({Tk, 1, 16}, DType::f32, rng);
    Tensor v = random_uniform({Tk, 1, 16}, DType::f32, rng), dout = random_uniform({Tq, 2, 16}, DType::f32, rng);
    Tensor out = empty({Tq, 2, 16}), lse = empty({Tq, 2}), dq = zeros({Tq, 2, 16});
    Tensor dk = zeros({Tk, 1, 16}), dv = zeros({Tk, 1, 16});
    const AttentionMask mask = mask_of(c);
    backend(q).attention_block_forward(out, lse, q, k, v, mask, 0.25);
    backend(q).attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, 0.25);
    for (int64_t t = 0; t < Tq; t++) {
        const bool sees_keys = t >= 71 && t < 161;
        for (int64_t h = 0; h < 2; h++) {
            const float row_lse = lse.data<float>()[t * 2 + h];
            EXPECT_EQ(std::isinf(row_lse) && row_lse < 0, !sees_keys) << "row " << t;
            for (int64_t c = 0; c < 16 && !sees_keys; c++) {
                EXPECT_EQ(out.data<float>()[(t * 2 + h) * 16 + c], 0.0f) << "row " << t;
                EXPECT_EQ(dq.data<float>()[(t * 2 + h) * 16 + c], 0.0f) << "row " << t;
            }
        }
    }
    EXPECT_TRUE(all_finite(out) && all_finite(dq) && all_finite(dk) && all_finite(dv));
}

// Ring attention: forward per key block, merge, then each block's backward with the FINAL
// out and lse; the summed gradients must equal the single-block backward.
//   lse = lse_a + log1p(exp(lse_b - lse_a)) (larger first),  out = exp(lse_a - lse) out_a + exp(lse_b - lse) out_b
TEST(AttentionBlock, TwoMergedKeyBlocksMatchOneBlock) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    const Case c{"", 4, 2, 32, true, packed_segments(documents), range(0, 202), range(0, 202)};
    const int64_t T = 202, H = 4, Hkv = 2, D = 32, split = 90;
    const double scale = 1.0 / std::sqrt(32.0);
    Tensor q = random_uniform({T, H, D}, DType::f32, rng, -2, 2), k = random_uniform({T, Hkv, D}, DType::f32, rng, -2, 2);
    Tensor v = random_uniform({T, Hkv, D}, DType::f32, rng), dout = random_uniform({T, H, D}, DType::f32, rng);
    const AttentionMask mask = mask_of(c);
    Backend& cpu = backend(q);

    Tensor out = empty({T, H, D}), lse = empty({T, H});
    Tensor dq = zeros({T, H, D}), dk = zeros({T, Hkv, D}), dv = zeros({T, Hkv, D});
    cpu.attention_block_forward(out, lse, q, k, v, mask, scale);
    cpu.attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);

    AttentionMask block_mask[2];
    Tensor block_out[2], block_lse[2];
    const int64_t bounds[3] = {0, split, T};
    for (int b = 0; b < 2; b++) {
        block_mask[b] = {mask.q_index, mask.q_segment, mask.k_index.rows(bounds[b], bounds[b + 1]),
                         mask.k_segment.rows(bounds[b], bounds[b + 1]), true, {}, {}};
        block_out[b] = empty({T, H, D});
        block_lse[b] = empty({T, H});
        cpu.attention_block_forward(block_out[b], block_lse[b], q, k.rows(bounds[b], bounds[b + 1]),
                                    v.rows(bounds[b], bounds[b + 1]), block_mask[b], scale);
    }
    Tensor merged_out = empty({T, H, D}), merged_lse = empty({T, H});
    for (int64_t row = 0; row < T * H; row++) {
        const double a = block_lse[0].data<float>()[row], b = block_lse[1].data<float>()[row];
        const double high = std::max(a, b), low = std::min(a, b);
        const double merged = low == -INFINITY ? high : high + std::log1p(std::exp(low - high));
        merged_lse.data<float>()[row] = static_cast<float>(merged);
        const double weight_a = a == -INFINITY ? 0 : std::exp(a - merged), weight_b = b == -INFINITY ? 0 : std::exp(b - merged);
        for (int64_t e = 0; e < D; e++)
            merged_out.data<float>()[row * D + e] = static_cast<float>(
                weight_a * block_out[0].data<float>()[row * D + e] + weight_b * block_out[1].data<float>()[row * D + e]);
    }
    Tensor merged_dq = zeros({T, H, D}), merged_dk = zeros({T, Hkv, D}), merged_dv = zeros({T, Hkv, D});
    for (int b = 0; b < 2; b++) {
        Tensor dk_block = merged_dk.rows(bounds[b], bounds[b + 1]), dv_block = merged_dv.rows(bounds[b], bounds[b + 1]);
        cpu.attention_block_backward(merged_dq, dk_block, dv_block, dout, q, k.rows(bounds[b], bounds[b + 1]),
                                     v.rows(bounds[b], bounds[b + 1]), merged_out, merged_lse, block_mask[b], scale);
    }
    EXPECT_LE(max_relative_error(merged_out, out), 1e-5) << "seed " << seed;
    EXPECT_LE(max_relative_error(merged_lse, lse), 1e-5) << "seed " << seed;
    EXPECT_LE(max_relative_error(merged_dq, dq), 1e-5) << "seed " << seed;
    EXPECT_LE(max_relative_error(merged_dk, dk), 1e-5) << "seed " << seed;
    EXPECT_LE(max_relative_error(merged_dv, dv), 1e-5) << "seed " << seed;
}

// No atomics, fixed reduction order: the same bits on every run (for one thread count).
TEST(AttentionBlock, BackwardIsDeterministic) {
    std::mt19937_64 rng(fresh_seed());
    const Case c{"", 4, 1, 32, true, packed_segments(documents), range(0, 202), range(0, 202)};
    const int64_t T = 202;
    Tensor q = random_uniform({T, 4, 32}, DType::f32, rng), k = random_uniform({T, 1, 32}, DType::f32, rng);
    Tensor v = random_uniform({T, 1, 32}, DType::f32, rng), dout = random_uniform({T, 4, 32}, DType::f32, rng);
    const AttentionMask mask = mask_of(c);
    Tensor out = empty({T, 4, 32}), lse = empty({T, 4});
    backend(q).attention_block_forward(out, lse, q, k, v, mask, 0.2);
    std::vector<float> first;
    for (int run = 0; run < 2; run++) {
        Tensor dq = zeros({T, 4, 32}), dk = zeros({T, 1, 32}), dv = zeros({T, 1, 32});
        backend(q).attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, 0.2);
        std::vector<float> all = to_vector<float>(dq);
        for (const Tensor& g : {dk, dv}) {
            std::vector<float> part = to_vector<float>(g);
            all.insert(all.end(), part.begin(), part.end());
        }
        if (run == 0) first = all;
        else EXPECT_EQ(std::memcmp(first.data(), all.data(), all.size() * sizeof(float)), 0);
    }
}

TEST(AttentionOp, GradientsMatchFiniteDifferences) {
    const uint64_t seed = fresh_seed();
    std::mt19937_64 rng(seed);
    // 7 tokens in two documents (4 + 3), GQA 4/2, D 4
    const Case c{"", 4, 2, 4, true, {0, 0, 0, 0, 1, 1, 1}, range(0, 7), range(0, 7)};
    for (bool causal : {true, false}) {
        AttentionMask mask = mask_of(c);
        mask.causal = causal;
        auto op = [mask](Tape& tape, const std::vector<Tensor>& in) { return attention(tape, in[0], in[1], in[2], mask, 0.7); };
        std::vector<Tensor> inputs{random_uniform({7, 4, 4}, DType::f64, rng), random_uniform({7, 2, 4}, DType::f64, rng),
                                   random_uniform({7, 2, 4}, DType::f64, rng)};
        GradientCheck check = check_gradients_f64(op, inputs, {0, 1, 2}, rng);
        EXPECT_LE(check.max_error, 1e-6) << check.worst << ", causal " << causal << ", seed " << seed;
    }
}

TEST(AttentionOp, ReturnsLse) {
    std::mt19937_64 rng(fresh_seed());
    const Case c{"", 2, 1, 8, true, std::vector<int32_t>(5, 0), range(0, 5), range(0, 5)};
    Tape tape;
    Tensor lse;
    Tensor q = random_uniform({5, 2, 8}, DType::f32, rng), k = random_uniform({5, 1, 8}, DType::f32, rng);
    Tensor out = attention(tape, q, k, k, mask_of(c), 1.0, &lse);
    EXPECT_EQ(lse.shape(), (Shape{5, 2}));
    EXPECT_EQ(out.shape(), q.shape());
    // the first query sees only itself: lse = q_0 . k_0
    double dot = 0;
    for (int64_t e = 0; e < 8; e++) dot += double(q.data<float>()[e]) * k.data<float>()[e];
    EXPECT_NEAR(lse.data<float>()[0], dot, 1e-5);
}

TEST(AttentionOp, RejectsMismatchedShapes) {
    Tape tape;
    const Case c{"", 3, 2, 8, true, std::vector<int32_t>(4, 0), range(0, 4), range(0, 4)};
    const AttentionMask mask = mask_of(c);
    auto message_of = [&](const Tensor& q, const Tensor& k, const Tensor& v) {
        try {
            attention(tape, q, k, v, mask, 1.0);
        } catch (const Error& error) {
            return std::string(error.what());
        }
        return std::string("no error");
    };
    // 3 query heads over 2 kv heads
    EXPECT_NE(message_of(zeros({4, 3, 8}), zeros({4, 2, 8}), zeros({4, 2, 8})).find("attention"), std::string::npos);
    // head dims differ
    EXPECT_NE(message_of(zeros({4, 2, 8}), zeros({4, 2, 4}), zeros({4, 2, 4})).find("attention"), std::string::npos);
    // v differs from k
    EXPECT_NE(message_of(zeros({4, 2, 8}), zeros({4, 2, 8}), zeros({3, 2, 8})).find("attention"), std::string::npos);
    // mask of the wrong length
    EXPECT_NE(message_of(zeros({5, 2, 8}), zeros({4, 2, 8}), zeros({4, 2, 8})).find("attention"), std::string::npos);
}

// The backward's scratch does not grow with the number of keys: varlen_llama3 hands it the
// all-gathered keys of the whole sequence for this rank's few queries, and sequence
// parallelism only saves memory if nothing in the kernel is sized by those keys. 64 queries
// against 256 and against 8192 keys: the same extra bytes at the allocator's peak (packing all
// 8192 keys, as the kernel once did, would add 3 x 2 heads x 8192 x 32 floats = 6 MiB).
TEST(AttentionBlock, BackwardScratchDoesNotGrowWithKeys) {
    std::mt19937_64 rng(fresh_seed());
    auto backward_scratch_bytes = [&](int32_t keys) {
        const int64_t Tq = 64, H = 4, Hkv = 2, D = 16;
        const Case c{"", H, Hkv, D, true, std::vector<int32_t>(keys, 0), range(keys - 64, keys), range(0, keys)};
        Tensor q = random_uniform({Tq, H, D}, DType::f32, rng), dout = random_uniform({Tq, H, D}, DType::f32, rng);
        Tensor k = random_uniform({keys, Hkv, D}, DType::f32, rng), v = random_uniform({keys, Hkv, D}, DType::f32, rng);
        const AttentionMask mask = mask_of(c);
        Tensor out = empty({Tq, H, D}), lse = empty({Tq, H});
        backend(q).attention_block_forward(out, lse, q, k, v, mask, 0.25);
        Tensor dq = zeros({Tq, H, D}), dk = zeros({keys, Hkv, D}), dv = zeros({keys, Hkv, D});
        const size_t before = cpu_allocator().stats().bytes_in_use;
        cpu_allocator().reset_peak();
        backend(q).attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, 0.25);
        const size_t scratch_bytes = cpu_allocator().stats().peak_bytes_in_use - before;
        EXPECT_TRUE(all_finite(dk) && max_abs(dk) > 0);  // the keys were used
        return scratch_bytes;
    };
    const size_t few = backward_scratch_bytes(256), many = backward_scratch_bytes(8192);
    EXPECT_LE(many, few + 4096) << "scratch for 256 keys " << few << " B, for 8192 keys " << many << " B";
}

}  // namespace ringlm
