// varlen_llama3 (Llama 3's context parallelism): every rank all-gathers the K/V of its group,
// heads_k_stride KV heads at a time, and attends its own queries to the whole row(s) with the
// segment mask; no LSE merging, the gathered keys are one attention block.
//
// Shapes (S ranks, T local tokens, H query heads, Hkv KV heads, G = H / Hkv, stride KV heads
// per group): KV-head group [h0, h0 + stride) is read by query heads [h0*G, (h0 + stride)*G).
//   k, v slice     [T, stride, D]      -> all_gather ->  [S*T, stride, D]  (rank r: rows [r*T, (r+1)*T))
//   q, out slice   [T, stride*G, D],   lse slice [T, stride*G]
// The gathered global indices and segment ids line up with the gathered K/V rows, so the mask
// needs nothing else (also for several rows per batch: each rank holds chunk r of every row).
//
// Overlap: the next group's K/V all-gather is in flight while this group computes. Backward:
// dK, dV of the whole gathered length [S*T, stride, D] per group, reduce-scattered so each
// rank receives the sum over the group for its own rows; that reduce-scatter is in flight
// while the next group computes.
#include "parallel/ring_attention.h"

#include "backend/backend.h"

#include <memory>

namespace ringlm {

namespace {

struct Dimensions {
    int64_t S, T, H, Hkv, D, G, stride, groups;
};

Dimensions dimensions_of(const Communicator& transport, const RingAttentionInputs& in) {
    Dimensions d{};
    d.S = transport.size();
    d.T = in.q.size(0);
    d.H = in.q.size(1);
    d.D = in.q.size(2);
    d.Hkv = in.k.size(1);
    d.G = d.H / d.Hkv;
    d.stride = in.heads_k_stride == 0 ? d.Hkv : in.heads_k_stride;
    if (d.stride < 0 || d.Hkv % d.stride != 0)
        fail("varlen_llama3: heads_k_stride {} must divide the {} KV heads (0 = all at once)", in.heads_k_stride,
             d.Hkv);
    d.groups = d.Hkv / d.stride;
    return d;
}

// Heads [first, first + count) of x [T, heads, D] (or [T, heads] for lse) as a contiguous
// tensor [T, count, D] (or [T, count]); x itself when that is all of its heads.
Tensor head_slice(const Tensor& x, int64_t first, int64_t count) {
    const int64_t T = x.size(0), heads = x.size(1), inner = x.numel() / (T * heads);
    if (first == 0 && count == heads) return x;
    if (first < 0 || first + count > heads)
        fail("varlen_llama3: heads [{}, {}) of {}", first, first + count, x.describe());
    Shape shape = x.shape();
    shape[1] = count;
    Tensor slice = empty(shape, x.dtype(), x.device());
    Tensor columns = slice.view({T, count * inner});
    backend(x).gather_columns(columns, x.view({T, heads * inner}), first * inner);
    return slice;
}

// x[:, first : first + count] += slice, x [T, heads, D] (or [T, heads]), slice [T, count, D].
void add_head_slice(Tensor& x, const Tensor& slice, int64_t first) {
    const int64_t T = x.size(0), heads = x.size(1), inner = x.numel() / (T * heads), count = slice.size(1);
    if (slice.size(0) != T || first < 0 || first + count > heads || slice.numel() != T * count * inner)
        fail("varlen_llama3: adding {} into heads [{}, {}) of {}", slice.describe(), first, first + count,
             x.describe());
    Tensor columns = x.view({T, heads * inner});
    backend(x).scatter_add_columns(columns, slice.view({T, count * inner}), first * inner);
}

// The global indices and segment ids of every rank's tokens, in rank order: the keys' mask.
AttentionMask gathered_mask(Communicator& transport, const RingAttentionInputs& in, int64_t S) {
    const int64_t T = in.global_index.numel();
    Tensor k_index = empty({S * T}, DType::i32, in.global_index.device());
    Tensor k_segment = empty({S * T}, DType::i32, in.segment_ids.device());
    auto index_pending = transport.all_gather(in.global_index, k_index);
    auto segment_pending = transport.all_gather(in.segment_ids, k_segment);
    index_pending->wait();
    segment_pending->wait();
    AttentionMask mask{in.global_index, in.segment_ids, k_index, k_segment, true, {}, {}};
    if (static_cast<int64_t>(in.chunk_ranges.size()) == S) {
        mask.known_q = in.chunk_ranges[static_cast<size_t>(transport.rank())];
        mask.known_k = concatenation(in.chunk_ranges.data(), S);
    }
    return mask;
}

// One KV-head group's all-gather in flight. The buffers are declared before the exchanges so
// they are destroyed after them (an exchange's destructor waits for the network).
struct KvGather {
    int64_t first_head = 0;
    Tensor k_local, v_local;  // [T, stride, D]
    Tensor k_all, v_all;      // [S*T, stride, D]
    std::unique_ptr<PendingExchange> k_pending, v_pending;

    // Completes the gather and frees the send slices (only the gathered K/V are read after).
    void wait() {
        k_pending->wait();
        v_pending->wait();
        k_local = Tensor();
        v_local = Tensor();
    }
};

std::unique_ptr<KvGather> start_kv_gather(Communicator& transport, const RingAttentionInputs& in, const Dimensions& d,
                                          int64_t group) {
    auto gather = std::make_unique<KvGather>();
    gather->first_head = group * d.stride;
    gather->k_local = head_slice(in.k, gather->first_head, d.stride);
    gather->v_local = head_slice(in.v, gather->first_head, d.stride);
    gather->k_all = empty({d.S * d.T, d.stride, d.D}, in.k.dtype(), in.k.device());
    gather->v_all = empty({d.S * d.T, d.stride, d.D}, in.v.dtype(), in.v.device());
    gather->k_pending = transport.all_gather(gather->k_local, gather->k_all);
    gather->v_pending = transport.all_gather(gather->v_local, gather->v_all);
    return gather;
}

// One KV-head group's dK, dV reduce-scatter in flight; add_into() waits and adds the rank's
// own rows into dk, dv.
struct KvReduce {
    int64_t first_head = 0;
    Tensor dk_all, dv_all;  // [S*T, stride, D], this rank's contribution for every row
    Tensor dk_own, dv_own;  // [T, stride, D], the group's sum for this rank's rows
    std::unique_ptr<PendingExchange> dk_pending, dv_pending;

    void add_into(Tensor& dk, Tensor& dv) {
        dk_pending->wait();
        dv_pending->wait();
        AttentionComputeTimer timer;
        add_head_slice(dk, dk_own, first_head);
        add_head_slice(dv, dv_own, first_head);
    }
};

}  // namespace

// out_i = softmax(scale q_i . K^T over visible keys) V, with K, V the group's whole row(s);
// lse_i = log sum_j exp(scale q_i . k_j) over the same keys.
void varlen_llama3_forward(Communicator& transport, const RingAttentionInputs& in, Tensor& out, Tensor& lse) {
    const Dimensions d = dimensions_of(transport, in);
    const AttentionMask mask = gathered_mask(transport, in, d.S);
    Backend& compute = backend(in.q);
    // With several groups each group's result is added into zeroed outputs (its heads only).
    if (d.groups > 1) {
        compute.fill(out, 0.0);
        compute.fill(lse, 0.0);
    }
    std::unique_ptr<KvGather> current = start_kv_gather(transport, in, d, 0);
    for (int64_t group = 0; group < d.groups; group++) {
        std::unique_ptr<KvGather> next;
        if (group + 1 < d.groups) next = start_kv_gather(transport, in, d, group + 1);
        current->wait();
        AttentionComputeTimer timer;
        const int64_t first_q_head = current->first_head * d.G, q_heads = d.stride * d.G;
        if (d.groups == 1) {
            compute.attention_block_forward(out, lse, in.q, current->k_all, current->v_all, mask, in.scale);
        } else {
            const Tensor q = head_slice(in.q, first_q_head, q_heads);
            Tensor group_out = empty({d.T, q_heads, d.D}, out.dtype(), out.device());
            Tensor group_lse = empty({d.T, q_heads}, lse.dtype(), lse.device());
            compute.attention_block_forward(group_out, group_lse, q, current->k_all, current->v_all, mask, in.scale);
            add_head_slice(out, group_out, first_q_head);
            add_head_slice(lse, group_lse, first_q_head);
        }
        current = std::move(next);
    }
}

// The kernel's backward on the gathered keys (formulas in backend.h), per group:
//   dq (this rank's queries) += its part directly;
//   dk_all, dv_all [S*T] = this rank's queries' contribution to every key of the row(s);
//   dk[own rows] += sum over the group's ranks of their dk_all[own rows]  (reduce-scatter).
void varlen_llama3_backward(Communicator& transport, const RingAttentionInputs& in, const Tensor& out, const Tensor& lse,
                            const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
    const Dimensions d = dimensions_of(transport, in);
    const AttentionMask mask = gathered_mask(transport, in, d.S);
    Backend& compute = backend(in.q);
    std::unique_ptr<KvGather> current = start_kv_gather(transport, in, d, 0);
    std::unique_ptr<KvReduce> reducing;  // the previous group's reduce-scatter, in flight
    for (int64_t group = 0; group < d.groups; group++) {
        std::unique_ptr<KvGather> next;
        if (group + 1 < d.groups) next = start_kv_gather(transport, in, d, group + 1);
        current->wait();
        const int64_t first_q_head = current->first_head * d.G, q_heads = d.stride * d.G;
        auto reduce = std::make_unique<KvReduce>();
        reduce->first_head = current->first_head;
        {
            AttentionComputeTimer timer;
            reduce->dk_all = zeros(current->k_all.shape(), DType::f32, in.k.device());
            reduce->dv_all = zeros(current->v_all.shape(), DType::f32, in.v.device());
            if (d.groups == 1) {
                compute.attention_block_backward(dq, reduce->dk_all, reduce->dv_all, dout, in.q, current->k_all,
                                                 current->v_all, out, lse, mask, in.scale);
            } else {
                const Tensor q = head_slice(in.q, first_q_head, q_heads);
                const Tensor group_out = head_slice(out, first_q_head, q_heads);
                const Tensor group_lse = head_slice(lse, first_q_head, q_heads);
                const Tensor group_dout = head_slice(dout, first_q_head, q_heads);
                Tensor group_dq = zeros(q.shape(), DType::f32, dq.device());
                compute.attention_block_backward(group_dq, reduce->dk_all, reduce->dv_all, group_dout, q,
                                                 current->k_all, current->v_all, group_out, group_lse, mask, in.scale);
                add_head_slice(dq, group_dq, first_q_head);
            }
        }
        reduce->dk_own = empty({d.T, d.stride, d.D}, DType::f32, in.k.device());
        reduce->dv_own = empty({d.T, d.stride, d.D}, DType::f32, in.v.device());
        reduce->dk_pending = transport.reduce_scatter(reduce->dk_all, reduce->dk_own);
        reduce->dv_pending = transport.reduce_scatter(reduce->dv_all, reduce->dv_own);
        if (reducing) reducing->add_into(dk, dv);
        reducing = std::move(reduce);
        current = std::move(next);
    }
    reducing->add_into(dk, dv);
}

}  // namespace ringlm
