// GPU check of the attention block, forward and backward, CUDA against CPU. The cases cover
// what the ring variants hand the kernel: a block of a contiguous ring with documents
// (some query rows see no key: out = 0, lse = -inf), striped and zigzag global indices,
// GQA and MHA, non-causal with interleaved segments, head sizes that are not multiples of 64,
// one query (decoding), a block in which no query sees any key; each on the f32 tiled kernel
// and on the bf16 tensor-core one; then attention_merge.
#include "cuda_backend.h"
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
    {
        // Decoding with a KV cache: one query (the newest token) against 300 cached keys; the
        // query tile is all padding but one row.
        AttentionCase c{"decode, 1 query, 300 keys, GQA 8/2, D 64", 8, 2, 64, true, {299}, {0}, range(0, 300), {}};
        c.k_segment.assign(c.k_index.size(), 0);
        cases.push_back(c);
    }
    {
        // A causal ring block whose keys all come after its queries: every tile pair is skipped,
        // every row gets out = 0 and lse = -inf, and the backward adds nothing.
        AttentionCase c{"causal block of future keys only, GQA 4/2, D 64", 4, 2, 64, true, range(0, 70), {},
                        range(70, 150), {}};
        c.q_segment.assign(c.q_index.size(), 0);
        c.k_segment.assign(c.k_index.size(), 0);
        cases.push_back(c);
    }
    return cases;
}

// x rounded to bf16 and back, on the host.
Tensor rounded_to_bf16(const Tensor& x) { return host_as(host_as(x, DType::bf16), DType::f32); }

// One case on one of the backend's own kernels: `tiled` (f32, against the CPU at f32
// tolerance) or `tensor` (bf16 tensor cores). The tensor-core kernel rounds q, k, v and dout
// to bf16 as it loads them, so its CPU reference takes the same rounded inputs: what is left
// to compare is its own arithmetic. Its lse comes from exact products of bf16 values summed in
// f32 in another order (f32-level: 1e-4); out, dq, dk, dv pass through P and dS rounded to
// bf16 (bf16 tolerance), and its gradients are compared by what the call added.
void check_case(Checker& checker, const AttentionCase& c, AttentionKernel kernel, std::mt19937_64& rng) {
    const bool tensor = kernel == AttentionKernel::tensor;
    const std::string label = (tensor ? "tensor " : "") + c.label;
    const double tolerance = tensor ? bf16_tolerance : f32_tolerance;
    const double lse_tolerance = tensor ? 1e-4 : f32_tolerance;
    const auto reference_input = [&](const Tensor& x) { return tensor ? rounded_to_bf16(x) : x; };
    const int64_t Tq = static_cast<int64_t>(c.q_index.size()), Tk = static_cast<int64_t>(c.k_index.size());
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    const Tensor q = random_uniform({Tq, c.H, c.D}, DType::f32, rng, -2, 2);
    const Tensor k = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng, -2, 2);
    const Tensor v = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
    const Tensor q_reference = reference_input(q), k_reference = reference_input(k), v_reference = reference_input(v);
    AttentionMask mask{ints(c.q_index), ints(c.q_segment), ints(c.k_index), ints(c.k_segment), c.causal, {}, {}};
    AttentionMask device_mask{to_device(mask.q_index), to_device(mask.q_segment), to_device(mask.k_index),
                              to_device(mask.k_segment), c.causal, {}, {}};
    const Tensor q_gpu = to_device(q), k_gpu = to_device(k), v_gpu = to_device(v);
    cuda().set_attention_kernel(kernel);

    Tensor out = poisoned({Tq, c.H, c.D}, Device::cpu), lse = poisoned({Tq, c.H}, Device::cpu);
    const std::string forward = "attention fwd: " + label;
    checker.check(forward, [&] {
        Tensor out_gpu = poisoned({Tq, c.H, c.D}, Device::cuda), lse_gpu = poisoned({Tq, c.H}, Device::cuda);
        cpu().attention_block_forward(out, lse, q_reference, k_reference, v_reference, mask, scale);
        gpu().attention_block_forward(out_gpu, lse_gpu, q_gpu, k_gpu, v_gpu, device_mask, scale);
        checker.compare(forward + " out", out_gpu, out, tolerance);
        checker.compare(forward + " lse", lse_gpu, lse, lse_tolerance);
    });

    const std::string backward = "attention bwd: " + label;
    checker.check(backward, [&] {
        // the backward reads the CPU's out and lse on both sides (the FINAL ones, as in a ring)
        const Tensor dout = random_uniform({Tq, c.H, c.D}, DType::f32, rng);
        const Tensor dq_start = random_uniform({Tq, c.H, c.D}, DType::f32, rng);
        const Tensor dk_start = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
        const Tensor dv_start = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
        Tensor dq = host_as(dq_start, DType::f32), dk = host_as(dk_start, DType::f32), dv = host_as(dv_start, DType::f32);
        Tensor dq_gpu = to_device(dq), dk_gpu = to_device(dk), dv_gpu = to_device(dv);
        cpu().attention_block_backward(dq, dk, dv, reference_input(dout), q_reference, k_reference, v_reference, out,
                                       lse, mask, scale);
        gpu().attention_block_backward(dq_gpu, dk_gpu, dv_gpu, to_device(dout), q_gpu, k_gpu, v_gpu, to_device(out),
                                       to_device(lse), device_mask, scale);
        // the tiled rows compare the sums (their tolerance is f32's either way), the tensor rows the contributions
        const auto compared = [&](const Tensor& result, const Tensor& start) {
            return tensor ? added(result, start) : result;
        };
        checker.compare(backward + " dq", compared(dq_gpu, dq_start), compared(dq, dq_start), tolerance);
        checker.compare(backward + " dk", compared(dk_gpu, dk_start), compared(dk, dk_start), tolerance);
        checker.compare(backward + " dv", compared(dv_gpu, dv_start), compared(dv, dv_start), tolerance);
    });
    cuda().set_attention_kernel(AttentionKernel::tiled);
}

// attention_merge on [T, H, D] partials with every lse case: both finite, either side -inf
// (it saw no key: the other side is taken as it is), both -inf (out and lse stay).
void check_merge(Checker& checker, std::mt19937_64& rng) {
    const int64_t T = 77, H = 3, D = 40;  // D not a multiple of the warp: lanes past D idle
    const std::string name = "attention_merge";
    checker.check(name, [&] {
        Tensor out = random_uniform({T, H, D}, DType::f32, rng), lse = random_uniform({T, H}, DType::f32, rng, -3, 3);
        const Tensor out_block = random_uniform({T, H, D}, DType::f32, rng);
        Tensor lse_block = random_uniform({T, H}, DType::f32, rng, -3, 3);
        for (int64_t row = 0; row < T * H; row++) {
            const int64_t kind = row % 4;  // 0 both finite, 1 lse -inf, 2 lse_block -inf, 3 both
            if (kind == 1 || kind == 3) lse.data<float>()[row] = -INFINITY;
            if (kind == 2 || kind == 3) lse_block.data<float>()[row] = -INFINITY;
        }
        Tensor out_gpu = to_device(out), lse_gpu = to_device(lse);
        cpu().attention_merge(out, lse, out_block, lse_block);
        gpu().attention_merge(out_gpu, lse_gpu, to_device(out_block), to_device(lse_block));
        checker.compare(name + " out", out_gpu, out, f32_tolerance);
        checker.compare(name + " lse", lse_gpu, lse, f32_tolerance);
    });
}

}  // namespace

void check_attention(Checker& checker, std::mt19937_64& rng) {
    for (const AttentionKernel kernel : {AttentionKernel::tiled, AttentionKernel::tensor})
        for (const AttentionCase& c : make_cases(rng)) check_case(checker, c, kernel, rng);
    check_merge(checker, rng);
}

}  // namespace ringlm::gpu_check
