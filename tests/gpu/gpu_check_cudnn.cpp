// GPU check of cuDNN's fused attention (cuda/cudnn_attention.h) against the own tiled f32 kernel
// on the same device. The tiled kernel reads the bf16-rounded q, k, v (and dout), so what differs
// is cuDNN's bf16 probabilities and bf16 outputs: bf16 tolerance (1e-2). Outputs are poisoned
// first; gradients ACCUMULATE, so both sides start from the same random values and the rows
// compare what each side ADDED (an overwrite instead of an add fails).
// Cases: the causal diagonal block and a non-causal block (T 1024, GQA 8/2), a ring-like fully
// visible block with Tq != Tk; then the backend's dispatch (RINGLM_ATTENTION=cudnn): a supported
// case goes to cuDNN, a segment mask falls back to the tiled kernel, each decided from the mask
// on the device and from the host's facts (the same output, no wait).
// A graph cuDNN refuses fails its row with cuDNN's message (Checker::check catches it); the
// engine rows name the engine config each direction ran with (only after it ran).
#include "cuda_backend.h"
#include "cuda_check.h"
#include "cudnn_attention.h"
#include "gpu_check.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace ringlm::gpu_check {

using testing::random_uniform;

namespace {

struct CudnnCase {
    std::string label;
    int64_t H, Hkv, D;
    std::vector<int32_t> q_index, k_index;
    bool causal;
    std::vector<int32_t> k_segment = {};  // empty: every token in segment 0
};

std::vector<int32_t> range(int32_t begin, int32_t end) {
    std::vector<int32_t> values;
    for (int32_t i = begin; i < end; i++) values.push_back(i);
    return values;
}

Tensor device_ints(const std::vector<int32_t>& values) {
    return to_device(from_vector(values, {static_cast<int64_t>(values.size())}));
}

AttentionMask device_mask(const CudnnCase& c) {
    const std::vector<int32_t> q_segment(c.q_index.size(), 0);
    const std::vector<int32_t> k_segment = c.k_segment.empty() ? std::vector<int32_t>(c.k_index.size(), 0) : c.k_segment;
    return {device_ints(c.q_index), device_ints(q_segment), device_ints(c.k_index), device_ints(k_segment), c.causal,
            {}, {}};
}

// The mask's facts as the host knows them from the case's own arrays (a batch's chunk ranges):
// what the model and the ring pass hand the dispatch, so it reads nothing back.
KnownTokens known_tokens(const std::vector<int32_t>& index, const std::vector<int32_t>& segment) {
    KnownTokens known{{index[0], index[0], segment[0], segment[0]}, true};
    for (size_t i = 0; i < index.size(); i++) {
        known.index_min = std::min(known.index_min, index[i]);
        known.index_max = std::max(known.index_max, index[i]);
        known.segment_min = std::min(known.segment_min, segment[i]);
        known.segment_max = std::max(known.segment_max, segment[i]);
        if (i > 0) known.consecutive = known.consecutive && index[i] == index[i - 1] + 1;
    }
    return known;
}

AttentionMask known_mask(const CudnnCase& c) {
    AttentionMask mask = device_mask(c);
    const std::vector<int32_t> k_segment =
        c.k_segment.empty() ? std::vector<int32_t>(c.k_index.size(), 0) : c.k_segment;
    mask.known_q = known_tokens(c.q_index, std::vector<int32_t>(c.q_index.size(), 0));
    mask.known_k = known_tokens(c.k_index, k_segment);
    return mask;
}

Tensor random_device(Shape shape, std::mt19937_64& rng, double low = -1.0, double high = 1.0) {
    return to_device(random_uniform(shape, DType::f32, rng, low, high));
}

// x rounded to bf16 and back, on the device
Tensor rounded_to_bf16(const Tensor& x) {
    Tensor narrow = empty(x.shape(), DType::bf16, Device::cuda), back = empty(x.shape(), DType::f32, Device::cuda);
    gpu().copy(narrow, x);
    gpu().copy(back, narrow);
    return back;
}

void check_case(Checker& checker, const CudnnCase& c, std::mt19937_64& rng) {
    const int64_t Tq = static_cast<int64_t>(c.q_index.size()), Tk = static_cast<int64_t>(c.k_index.size());
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    const Tensor q = random_device({Tq, c.H, c.D}, rng, -2, 2), k = random_device({Tk, c.Hkv, c.D}, rng, -2, 2);
    const Tensor v = random_device({Tk, c.Hkv, c.D}, rng);
    const Tensor q_rounded = rounded_to_bf16(q), k_rounded = rounded_to_bf16(k), v_rounded = rounded_to_bf16(v);
    const AttentionMask mask = device_mask(c);
    CudnnAttention& cudnn = cuda().cudnn_attention();
    cuda().set_attention_kernel(AttentionKernel::tiled);  // the reference

    bool causal = false;
    const std::string supported = "cudnn supports: " + c.label;
    const std::string reason = cudnn.unsupported_reason(q, k, mask, &causal);
    checker.add(supported, reason.empty(), reason.empty() ? (causal ? "causal diagonal" : "no mask") : reason);
    if (!reason.empty()) return;

    Tensor out = poisoned({Tq, c.H, c.D}, Device::cuda), lse = poisoned({Tq, c.H}, Device::cuda);
    gpu().attention_block_forward(out, lse, q_rounded, k_rounded, v_rounded, mask, scale);
    const std::string forward = "cudnn attention fwd: " + c.label;
    checker.check(forward, [&] {
        Tensor out_cudnn = poisoned({Tq, c.H, c.D}, Device::cuda), lse_cudnn = poisoned({Tq, c.H}, Device::cuda);
        cudnn.forward(out_cudnn, lse_cudnn, q, k, v, causal, scale);
        checker.add("cudnn engine fwd: " + c.label, true, cudnn.last_engine());
        checker.compare(forward + " out", out_cudnn, to_host(out), bf16_tolerance);
        checker.compare(forward + " lse", lse_cudnn, to_host(lse), bf16_tolerance);
    });

    const std::string backward = "cudnn attention bwd: " + c.label;
    checker.check(backward, [&] {
        // both read the tiled kernel's out and lse (the FINAL ones, as in a ring)
        const Tensor dout = random_device({Tq, c.H, c.D}, rng);
        const Tensor dq_start = random_uniform({Tq, c.H, c.D}, DType::f32, rng);
        const Tensor dk_start = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
        const Tensor dv_start = random_uniform({Tk, c.Hkv, c.D}, DType::f32, rng);
        Tensor dq = to_device(dq_start), dk = to_device(dk_start), dv = to_device(dv_start);
        Tensor dq_cudnn = to_device(dq_start), dk_cudnn = to_device(dk_start), dv_cudnn = to_device(dv_start);
        gpu().attention_block_backward(dq, dk, dv, rounded_to_bf16(dout), q_rounded, k_rounded, v_rounded, out, lse,
                                       mask, scale);
        cudnn.backward(dq_cudnn, dk_cudnn, dv_cudnn, dout, q, k, v, out, lse, causal, scale);
        checker.add("cudnn engine bwd: " + c.label, true, cudnn.last_engine());
        checker.compare(backward + " dq", added(dq_cudnn, dq_start), added(dq, dq_start), bf16_tolerance);
        checker.compare(backward + " dk", added(dk_cudnn, dk_start), added(dk, dk_start), bf16_tolerance);
        checker.compare(backward + " dv", added(dv_cudnn, dv_start), added(dv, dv_start), bf16_tolerance);
    });
}

// RINGLM_ATTENTION=cudnn through the Backend call: `expect_cudnn` cases must differ from the
// tiled f32 result by bf16 rounding only; the others (segment masks) must BE the tiled result.
// Twice: the dispatch reading the mask on the device, and deciding from the host's facts
// (AttentionMask::known_q / known_k), which must give the same output with no host wait.
void check_dispatch(Checker& checker, const CudnnCase& c, bool expect_cudnn, std::mt19937_64& rng) {
    const std::string name = std::string("attention dispatch cudnn: ") + c.label;
    checker.check(name, [&] {
        const int64_t Tq = static_cast<int64_t>(c.q_index.size()), Tk = static_cast<int64_t>(c.k_index.size());
        const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
        const Tensor q = random_device({Tq, c.H, c.D}, rng), k = random_device({Tk, c.Hkv, c.D}, rng);
        const Tensor v = random_device({Tk, c.Hkv, c.D}, rng);
        const AttentionMask mask = device_mask(c), known = known_mask(c);
        Tensor expected = poisoned({Tq, c.H, c.D}, Device::cuda), lse = poisoned({Tq, c.H}, Device::cuda);
        cuda().set_attention_kernel(AttentionKernel::tiled);
        gpu().attention_block_forward(expected, lse, q, k, v, mask, scale);
        Tensor actual = poisoned({Tq, c.H, c.D}, Device::cuda), from_known = poisoned({Tq, c.H, c.D}, Device::cuda);
        long long waits = 0;
        cuda().set_attention_kernel(AttentionKernel::cudnn);
        try {
            gpu().attention_block_forward(actual, lse, q, k, v, mask, scale);
            const long long waits_before = kernels::host_waits;
            gpu().attention_block_forward(from_known, lse, q, k, v, known, scale);
            waits = kernels::host_waits - waits_before;
        } catch (...) {
            cuda().set_attention_kernel(AttentionKernel::tiled);
            throw;
        }
        cuda().set_attention_kernel(AttentionKernel::tiled);
        checker.compare(name, actual, to_host(expected), expect_cudnn ? bf16_tolerance : f32_tolerance);
        checker.compare(name + ", host facts: same output", from_known, to_host(actual), 0);
        checker.add(name + ", host facts: no wait", waits == 0, std::to_string(waits) + " host waits");
    });
}

}  // namespace

void check_cudnn_attention(Checker& checker, std::mt19937_64& rng) {
    if (!CudnnAttention::built_with_cudnn()) {  // not a failure: the tiled kernel is checked
        checker.note("cudnn attention", "SKIPPED", "built without cuDNN (CMake found no libcudnn)");
        return;
    }
    const std::vector<CudnnCase> cases = {
        {"causal diagonal T 1024, GQA 8/2, D 128", 8, 2, 128, range(0, 1024), range(0, 1024), true},
        {"non-causal T 1024, GQA 8/2, D 64", 8, 2, 64, range(0, 1024), range(0, 1024), false},
        // a ring step: this rank's queries [1024, 1536) against an earlier rank's keys [0, 768)
        {"ring block Tq 512, Tk 768, fully visible, GQA 8/2, D 128", 8, 2, 128, range(1024, 1536), range(0, 768),
         true},
    };
    // A throw outside a row's own check (cudnnCreate failing, the reference) fails that case's
    // row only: the NCCL, training and benchmark rows after this still run.
    for (const CudnnCase& c : cases) checker.check("cudnn attention: " + c.label, [&] { check_case(checker, c, rng); });

    check_dispatch(checker, cases[0], true, rng);
    check_dispatch(checker, cases[2], true, rng);  // fully visible: cuDNN without a mask
    CudnnCase documents{"2 documents (segment mask) -> tiled", 4, 2, 64, range(0, 256), range(0, 256), true};
    documents.k_segment.assign(256, 0);
    for (int j = 100; j < 256; j++) documents.k_segment[j] = 1;  // keys past 100 in another document
    check_dispatch(checker, documents, false, rng);
    // a decoding step: one new query against 300 cached keys
    const CudnnCase decoding{"decoding Tq 1, Tk 300 -> tiled", 8, 2, 64, range(299, 300), range(0, 300), true};
    check_dispatch(checker, decoding, false, rng);
    cuda().set_attention_kernel(AttentionKernel::tiled);
}

}  // namespace ringlm::gpu_check
