#include "parallel/ring_attention.h"

#include "ops/bf16.h"

namespace ringlm {

namespace {

double attention_compute_seconds = 0;

void check_inputs(const RingAttentionInputs& in) {
    const int64_t T = in.q.size(0);
    if (in.q.dim() != 3 || in.k.dim() != 3 || in.k.shape() != in.v.shape() || in.k.size(0) != T ||
        in.k.size(2) != in.q.size(2) || in.q.size(1) % in.k.size(1) != 0)
        fail("ring_attention: q {} with k {} and v {}: expected q [T, H, D], k and v [T, Hkv, D], H % Hkv == 0",
             in.q.describe(), in.k.describe(), in.v.describe());
    if (in.global_index.numel() != T || in.segment_ids.numel() != T)
        fail("ring_attention: {} queries but {} global indices and {} segment ids", T, in.global_index.numel(),
             in.segment_ids.numel());
    // bf16 q, k, v travel in bf16 (half the bytes); partials, lse and gradients are f32
    for (const Tensor* x : {&in.q, &in.k, &in.v})
        if (x->dtype() != DType::f32 && x->dtype() != DType::bf16)
            fail("ring_attention: q, k, v are f32 or bf16 (computed in f32), got {}", x->describe());
}

bool is_all_gather(RingAttnFunc variant) { return variant == RingAttnFunc::varlen_llama3; }

void attention_forward(Communicator& transport, RingAttnFunc variant, const RingAttentionInputs& in, Tensor& out,
                       Tensor& lse) {
    if (in.ulysses_degree > 1) {
        ulysses_forward(transport, variant, in, out, lse);
    } else if (is_all_gather(variant)) {
        varlen_llama3_forward(transport, in, out, lse);
    } else {
        ring_pass_forward(transport, in, out, lse);
    }
}

void attention_backward(Communicator& transport, RingAttnFunc variant, const RingAttentionInputs& in, const Tensor& out,
                        const Tensor& lse, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
    if (in.ulysses_degree > 1) {
        ulysses_backward(transport, variant, in, out, lse, dout, dq, dk, dv);
    } else if (is_all_gather(variant)) {
        varlen_llama3_backward(transport, in, out, lse, dout, dq, dk, dv);
    } else {
        ring_pass_backward(transport, in, out, lse, dout, dq, dk, dv);
    }
}

}  // namespace

AttentionComputeTimer::AttentionComputeTimer() : start_(std::chrono::steady_clock::now()) {}

AttentionComputeTimer::~AttentionComputeTimer() {
    attention_compute_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double take_ring_compute_seconds() {
    const double seconds = attention_compute_seconds;
    attention_compute_seconds = 0;
    return seconds;
}

Tensor ring_attention(Tape& tape, Communicator& transport, RingAttnFunc variant, const RingAttentionInputs& in,
                      AttentionReplay* replay) {
    check_inputs(in);
    Tensor out, lse;
    if (replay && replay->out.defined()) {
        // Used once: from here on the tape node alone holds them, so they are freed as soon as
        // this layer's backward has run (not kept until the next micro batch).
        out = replay->out;
        lse = replay->lse;
        *replay = AttentionReplay{};
    } else {
        Tensor merged = empty(in.q.shape(), DType::f32, in.q.device());
        lse = empty({in.q.size(0), in.q.size(1)}, DType::f32, in.q.device());
        attention_forward(transport, variant, in, merged, lse);
        // bf16 q, k, v: the merged f32 out is rounded once, and the backward reads that bf16
        // out (delta = dout . out), as one block's attention does (and ring-flash-attn)
        out = in.q.dtype() == DType::bf16 ? bf16_copy(merged) : merged;
        if (replay) *replay = AttentionReplay{out, lse};
    }
    tape.record("ring_attention", out, [&transport, variant, in, out, lse](Grads& grads, const Tensor& dout) {
        Tensor& dq = grads.of(in.q);
        Tensor& dk = grads.of(in.k);
        Tensor& dv = grads.of(in.v);
        attention_backward(transport, variant, in, out, lse, dout, dq, dk, dv);
    });
    return out;
}

AttentionFunction sequence_parallel_attention(Communicator& transport, RingAttnFunc variant, int64_t heads_k_stride,
                                              int64_t ulysses_degree, bool checkpointing, int64_t n_layers) {
    struct Replays {
        uint64_t batch_id = 0;
        std::vector<AttentionReplay> layers;
    };
    auto replays = std::make_shared<Replays>();
    return [&transport, variant, heads_k_stride, ulysses_degree, checkpointing, n_layers, replays](
               Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, const TokenBatch& batch, double scale,
               int64_t layer) {
        RingAttentionInputs in{q, k, v, batch.global_index, batch.segment_ids, scale, heads_k_stride,
                               batch.sp_chunk_ranges, ulysses_degree};
        if (!checkpointing) return ring_attention(tape, transport, variant, in);
        if (replays->batch_id != batch.input_ids.id()) {
            replays->batch_id = batch.input_ids.id();
            replays->layers.assign(static_cast<size_t>(n_layers), AttentionReplay{});
        }
        return ring_attention(tape, transport, variant, in, &replays->layers[static_cast<size_t>(layer)]);
    };
}

}  // namespace ringlm
