// GPU check of the attention block, forward and backward, CUDA against CPU. The cases cover
// what the ring variants hand the kernel: a block of a contiguous ring with documents
// (some query rows see no key: out = 0, lse = -inf), striped and zigzag global indices,
// GQA and MHA, non-causal with interleaved segments, head sizes that are not multiples of 64.
// Then attention_merge, which folds the ring's blocks together.
#include "gpu_check.h"
#include "test_util.h"

#include <cmath>

namespace ringlm::gpu_check {

using testing::random_uniform;

namespace {

struct AttentionCase {
    std::string label;
    int64_t H, Hkv, D;
    bool causal;
    std::vector<int32_t> q_index, q_segment, k_index, k_segment;
};

Tensor ints(const std::vector<int32_t>& values) {
    return from_vector(values, {static_cast<int64_t>(values.size())});
}

std::vector<int32_t> range(int32_t begin, int32_t end, int32_t step = 1) {
    std::vector<int32_t> values;
    for (int32_t i = begin; i < end; i += step) values.push_back(i);
    return values;
}

std::vector<AttentionCase> make_cases(std::mt19937_64& rng) {
    std::vector<AttentionCase> cases;
    {
        // A ring block: queries are tokens [200, 350), keys [100, 230) of a 400-token row with
        // documents [0, b1), [b1, b2), [b2, 400); queries past 230 in the last document see nothing.
        const int32_t b1 = 110 + static_cast<int32_t>(rng() % 20), b2 = 250 + static_cast<int32_t>(rng() % 20);
        auto segment_of = [&](int32_t t) { return t < b1 ? 0 : (t < b2 ? 1 : 2); };
        AttentionCase c{"causal ring block, 3 documents, GQA 4/2, D 64", 4, 2, 64, true, range(200, 350), {},
                        range(100, 230), {}};
        for (int32_t t : c.q_index) c.q_segment.push_back(segment_of(t));
        for (int32_t t : c.k_index) c.k_segment.push_back(segment_of(t));
        cases.push_back(c);
    }
    {
        // Striped layout: this rank holds odd tokens as queries and even tokens as keys.
        AttentionCase c{"causal striped, MHA 8/8, D 128", 8, 8, 128, true, range(1, 261, 2), {}, range(0, 260, 2), {}};
        c.q_segment.assign(c.q_index.size(), 0);
        c.k_segment.assign(c.k_index.size(), 0);
        cases.push_back(c);
    }
    {
        // Non-causal, segments interleaved at random: no tile can be skipped, masks everywhere.
        AttentionCase c{"non-causal random segments, GQA 6/2, D 32", 6, 2, 32, false, range(0, 70), {}, range(0, 190), {}};
        for (size_t i = 0; i < c.q_index.size(); i++) c.q_segment.push_back(static_cast<int32_t>(rng() % 3));
        for (size_t j = 0; j < c.k_index.size(); j++) c.k_segment.push_back(static_cast<int32_t>(rng() % 3));
        cases.push_back(c);
    }
    {
        // Zigzag: chunks 0 and 7 of an 8-chunk row (tokens [0, 64) and [448, 512)), self-attention.
        std::vector<int32_t> tokens = range(0, 64);
        for (int32_t t = 448; t < 512; t++) tokens.push_back(t);
        AttentionCase c{"causal zigzag chunks, GQA 4/1, D 80", 4, 1, 80, true, tokens, {}, tokens, {}};
        c.q_segment.assign(tokens.size(), 5);
        c.k_segment.assign(tokens.size(), 5);
        cases.push_back(c);
    }
    return cases;
}

void check_case(Checker& checker, const AttentionCase& c, std::mt19937_64& rng) {
    const int64_t Tq = static_cast<int64_t>(c.q_index.size()), Tk = static_cast<int64_t>(c.k_index.size());
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    const Tensor q = random_uniform({Tq, c.H, c.D}, DType::f32, rng, -2, 2);
    const Tensor k = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng, -2, 2);
    const Tensor v = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
    AttentionMask mask{ints(c.q_index), ints(c.q_segment), ints(c.k_index), ints(c.k_segment), c.causal};
    AttentionMask device_mask{to_device(mask.q_index), to_device(mask.q_segment), to_device(mask.k_index),
                              to_device(mask.k_segment), c.causal};
    const Tensor q_gpu = to_device(q), k_gpu = to_device(k), v_gpu = to_device(v);

    Tensor out = poisoned({Tq, c.H, c.D}, Device::cpu), lse = poisoned({Tq, c.H}, Device::cpu);
    const std::string forward = "attention fwd: " + c.label;
    checker.check(forward, [&] {
        Tensor out_gpu = poisoned({Tq, c.H, c.D}, Device::cuda), lse_gpu = poisoned({Tq, c.H}, Device::cuda);
        cpu().attention_block_forward(out, lse, q, k, v, mask, scale);
        gpu().attention_block_forward(out_gpu, lse_gpu, q_gpu, k_gpu, v_gpu, device_mask, scale);
        checker.compare(forward + " out", out_gpu, out, f32_tolerance);
        checker.compare(forward + " lse", lse_gpu, lse, f32_tolerance);
    });

    const std::string backward = "attention bwd: " + c.label;
    checker.check(backward, [&] {
        // the backward reads the CPU's out and lse on both sides (the FINAL ones, as in a ring)
        const Tensor dout = random_uniform({Tq, c.H, c.D}, DType::f32, rng);
        Tensor dq = random_uniform({Tq, c.H, c.D}, DType::f32, rng);
        Tensor dk = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
        Tensor dv = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
        Tensor dq_gpu = to_device(dq), dk_gpu = to_device(dk), dv_gpu = to_device(dv);
        cpu().attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);
        gpu().attention_block_backward(dq_gpu, dk_gpu, dv_gpu, to_device(dout), q_gpu, k_gpu, v_gpu, to_device(out),
                                       to_device(lse), device_mask, scale);
        checker.compare(backward + " dq", dq_gpu, dq, f32_tolerance);
        checker.compare(backward + " dk", dk_gpu, dk, f32_tolerance);
        checker.compare(backward + " dv", dv_gpu, dv, f32_tolerance);
    });
}

// attention_merge, in place on both sides from the same values: rows where the running side,
// the block, or both saw no key (lse = -inf) next to ordinary ones; D 80 is not a multiple of
// the kernel's 32 lanes.
void check_merge(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 97, H = 6, D = 80;
    checker.check("attention_merge", [&] {
        const Tensor out_block = random_uniform({T, H, D}, DType::f32, rng);
        Tensor out = random_uniform({T, H, D}, DType::f32, rng);
        Tensor lse = random_uniform({T, H}, DType::f32, rng, -5, 5);
        Tensor lse_block = random_uniform({T, H}, DType::f32, rng, -5, 5);
        for (int64_t row = 0; row < T * H; row += 7) lse.data<float>()[row] = -INFINITY;
        for (int64_t row = 0; row < T * H; row += 5) lse_block.data<float>()[row] = -INFINITY;  // rows % 35: both
        Tensor out_gpu = to_device(out), lse_gpu = to_device(lse);
        cpu().attention_merge(out, lse, out_block, lse_block);
        gpu().attention_merge(out_gpu, lse_gpu, to_device(out_block), to_device(lse_block));
        checker.compare("attention_merge out", out_gpu, out, f32_tolerance);
        checker.compare("attention_merge lse", lse_gpu, lse, f32_tolerance);
    });
}

}  // namespace

void check_attention(Checker& checker, std::mt19937_64& rng) {
    for (const AttentionCase& c : make_cases(rng)) check_case(checker, c, rng);
    check_merge(checker, rng);
}

}  // namespace ringlm::gpu_check
