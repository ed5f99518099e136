// Ulysses (DeepSpeed Ulysses) and USP (Ulysses x ring): attention by re-laying the group's
// tensors from "my tokens, all heads" to "all tokens, my heads" with all-to-alls.
//
// Ulysses over a group of U ranks (the SP group when U = S, else USP's Ulysses group), this
// rank u, T local tokens, H query heads, Hkv KV heads, G = H / Hkv:
//   q  [T, H, D]    -> all_to_all ->  q_heads [U*T, H/U, D]   query heads [u*H/U, (u+1)*H/U)
//   k,v [T, Hkv, D] -> all_to_all ->  k_heads [U*T, Kr, D]    KV heads [u*(H/U)/G, ... + Kr)
//   global_index, segment_ids [T]  -> all_gather -> [U*T]
// Row block r of the *_heads tensors holds rank r's tokens, in the order the chunk layout gave
// them (contiguous, zigzag, per document); the mask is built from the gathered global indices
// and segment ids, so the order needs no fix-up and documents stay apart.
// GQA: Kr = Hkv / U KV heads per rank when U divides Hkv; when U > Hkv (U a multiple of Hkv)
// each rank gets the one KV head its H/U query heads read (Kr = 1, replicated on U/Hkv
// ranks), and the replicas' dK/dV come back as separate blocks added in rank order (exact, the
// same order every run). Other head counts are refused.
// Then attention over the whole row(s) with this rank's heads: the attention block kernel
// (Ulysses) or, for USP, the ring variant over the ring group of R = S / U ranks (each of its
// members holds the tokens of U SP ranks); out [U*T, H/U, D] and lse [U*T, H/U] go back by
// all-to-all into [T, H, D] and [T, H].
// Backward: q, k, v, out, lse and dout are re-laid again (nothing of the head layout is kept
// between forward and backward, so activation memory is that of the ring variants), the
// kernel's (or ring's) backward runs, and dq, dk, dv go back by all-to-all.
//
// Bytes per rank per layer (f32, n = T*D*4): forward (U-1)/U x (2Hn + 2Hkv'n) for q, k, v, out
// with Hkv' = max(Hkv, U) (replicated KV heads are sent once per replica) plus lse; backward
// (U-1)/U x (4Hn + 2Hkv'n) for q, k, v, out, dout, lse there and (U-1)/U x (Hn + 2Hkv'n) for
// dq, dk, dv back. bench/RESULTS.md compares these with the counted bytes.
#include "parallel/ring_attention.h"

#include "backend/backend.h"

#include <algorithm>
#include <memory>

namespace ringlm {

namespace {

struct HeadSplit {
    int64_t U = 1, rank = 0, T = 0, H = 0, Hkv = 0, D = 0;
    int64_t q_heads = 0;   // H / U per rank
    int64_t kv_heads = 0;  // Kr per rank
    int64_t G = 1;         // query heads per KV head
    int64_t first_q(int64_t r) const { return r * q_heads; }
    int64_t first_kv(int64_t r) const { return r * q_heads / G; }
};

HeadSplit head_split(const Communicator& ulysses, const RingAttentionInputs& in) {
    HeadSplit s;
    s.U = ulysses.size();
    s.rank = ulysses.rank();
    s.T = in.q.size(0);
    s.H = in.q.size(1);
    s.D = in.q.size(2);
    s.Hkv = in.k.size(1);
    s.G = s.H / s.Hkv;
    if (s.H % s.U != 0 || (s.Hkv % s.U != 0 && s.U % s.Hkv != 0))
        fail("ulysses: {} attention heads and {} KV heads cannot be split over ulysses_degree {}: it must divide "
             "the attention heads and divide (or be a multiple of) the KV heads",
             s.H, s.Hkv, s.U);
    s.q_heads = s.H / s.U;
    s.kv_heads = std::max<int64_t>(1, s.Hkv / s.U);
    return s;
}

// x [rows, heads, ...] (or [rows, heads]) as [rows, heads * inner].
Tensor as_columns(const Tensor& x) { return x.view({x.size(0), x.numel() / x.size(0)}); }

int64_t inner_of(const Tensor& x) { return x.numel() / (x.size(0) * x.size(1)); }

// An all-to-all in flight; the buffers are declared before the exchange so they outlive it.
struct Relayout {
    Tensor send, receive;
    std::unique_ptr<PendingExchange> pending;
};

// To the head layout: block r of `send` = this rank's tokens of x's heads
// [first(r), first(r) + count), so block r of `receive` [U*T, count, ...] = rank r's tokens of
// this rank's heads.
template <class FirstHead>
std::unique_ptr<Relayout> start_to_heads(Communicator& ulysses, const Tensor& x, int64_t count, FirstHead first) {
    const int64_t U = ulysses.size(), T = x.size(0), inner = inner_of(x);
    Shape shape = x.shape();
    shape[0] = U * T;
    shape[1] = count;
    auto relayout = std::make_unique<Relayout>();
    relayout->send = empty(shape, x.dtype(), x.device());
    relayout->receive = empty(shape, x.dtype(), x.device());
    {
        AttentionComputeTimer timer;
        const Tensor source = as_columns(x);
        for (int64_t r = 0; r < U; r++) {
            Tensor block = relayout->send.rows(r * T, (r + 1) * T).view({T, count * inner});
            backend(x).gather_columns(block, source, first(r) * inner);
        }
    }
    relayout->pending = ulysses.all_to_all(relayout->send, relayout->receive);
    return relayout;
}

// Back from the head layout: x_heads [U*T, count, ...] (all tokens, this rank's heads) goes
// out by all-to-all; block r received (this rank's tokens, rank r's heads) is added into
// dst [T, heads, ...] at heads [first(r), first(r) + count), in rank order.
std::unique_ptr<Relayout> start_from_heads(Communicator& ulysses, const Tensor& x_heads) {
    auto relayout = std::make_unique<Relayout>();
    relayout->send = x_heads;
    relayout->receive = empty_like(x_heads);
    relayout->pending = ulysses.all_to_all(relayout->send, relayout->receive);
    return relayout;
}

template <class FirstHead>
void finish_from_heads(Relayout& relayout, Tensor& dst, FirstHead first) {
    relayout.pending->wait();
    AttentionComputeTimer timer;
    const Tensor& received = relayout.receive;
    const int64_t U = received.size(0) / dst.size(0), T = dst.size(0), count = received.size(1);
    const int64_t inner = inner_of(received);
    Tensor columns = as_columns(dst);
    for (int64_t r = 0; r < U; r++) {
        const Tensor block = received.rows(r * T, (r + 1) * T).view({T, count * inner});
        backend(dst).scatter_add_columns(columns, block, first(r) * inner);
    }
}

// The gathered global indices and segment ids of the Ulysses group, in rank order: the mask
// of the whole row(s) for queries and keys alike.
struct RowMask {
    Tensor index, segment;
    std::optional<KnownTokens> known;  // the group's chunk ranges laid end to end, when the batch gave them
    AttentionMask mask() const { return AttentionMask{index, segment, index, segment, true, known, known}; }
};

RowMask gather_row_mask(Communicator& ulysses, const RingAttentionInputs& in) {
    const int64_t U = ulysses.size(), T = in.global_index.numel();
    RowMask row{empty({U * T}, DType::i32, in.global_index.device()),
                empty({U * T}, DType::i32, in.segment_ids.device()), std::nullopt};
    auto index_pending = ulysses.all_gather(in.global_index, row.index);
    auto segment_pending = ulysses.all_gather(in.segment_ids, row.segment);
    index_pending->wait();
    segment_pending->wait();
    if (static_cast<int64_t>(in.chunk_ranges.size()) == U)  // Ulysses alone: the group is the SP group
        row.known = concatenation(in.chunk_ranges.data(), U);
    return row;
}

// The ring group's member j holds the tokens of SP ranks [j*U, (j+1)*U), laid end to end.
std::vector<ChunkRange> ring_group_ranges(const std::vector<ChunkRange>& sp_ranges, int64_t U) {
    std::vector<ChunkRange> ranges;
    for (size_t first = 0; first + static_cast<size_t>(U) <= sp_ranges.size(); first += static_cast<size_t>(U))
        ranges.push_back(concatenation(&sp_ranges[first], U));
    return ranges;
}

// Which communicators run the two halves: U = S: the SP group's all-to-all and no ring; 1 < U < S:
// the SP communicator's USP groups.
struct UspGroups {
    Communicator* ulysses = nullptr;
    Communicator* ring = nullptr;  // null: the local kernel over the whole row
};

UspGroups usp_groups(Communicator& transport, int64_t U) {
    const int S = transport.size();
    if (U == S) return {&transport, nullptr};
    Communicator* ulysses = transport.ulysses_group();
    Communicator* ring = transport.ring_group();
    if (U < 1 || S % U != 0 || !ulysses || !ring || ulysses->size() != U || ring->size() != S / U)
        fail("ulysses: ulysses_degree {} with sequence_parallel_degree {} needs the transport's Ulysses groups of {} "
             "ranks and ring groups of {} (make_mpi_communicator with Topology's ulysses_comm and ring_comm); it has {} "
             "and {}",
             U, S, U, U > 0 ? S / U : 0, ulysses ? ulysses->size() : 0, ring ? ring->size() : 0);
    return {ulysses, ring};
}

// The inputs of the attention over the whole row(s) with this rank's heads.
RingAttentionInputs head_inputs(const RingAttentionInputs& in, const Tensor& q, const Tensor& k, const Tensor& v,
                                const RowMask& row, int64_t kv_heads) {
    RingAttentionInputs heads;
    heads.q = q;
    heads.k = k;
    heads.v = v;
    heads.global_index = row.index;
    heads.segment_ids = row.segment;
    heads.scale = in.scale;
    heads.heads_k_stride = in.heads_k_stride > 0 && kv_heads % in.heads_k_stride == 0 ? in.heads_k_stride : 0;
    if (!in.chunk_ranges.empty()) heads.chunk_ranges = ring_group_ranges(in.chunk_ranges, in.ulysses_degree);
    return heads;
}

// What forward and backward both start with: the groups, the head split, Q, K and V on their way
// to the head layout, and the whole row's mask.
struct UlyssesStart {
    UspGroups groups;
    HeadSplit split;
    std::unique_ptr<Relayout> q, k, v;
    RowMask row;
};

UlyssesStart start_ulysses(Communicator& transport, const RingAttentionInputs& in) {
    UlyssesStart start;
    start.groups = usp_groups(transport, in.ulysses_degree);
    Communicator& ulysses = *start.groups.ulysses;
    const HeadSplit s = start.split = head_split(ulysses, in);
    auto first_q = [s](int64_t r) { return s.first_q(r); };
    auto first_kv = [s](int64_t r) { return s.first_kv(r); };
    start.q = start_to_heads(ulysses, in.q, s.q_heads, first_q);
    start.k = start_to_heads(ulysses, in.k, s.kv_heads, first_kv);
    start.v = start_to_heads(ulysses, in.v, s.kv_heads, first_kv);
    start.row = gather_row_mask(ulysses, in);
    return start;
}

}  // namespace

void ulysses_forward(Communicator& transport, RingAttnFunc ring_variant, const RingAttentionInputs& in, Tensor& out,
                     Tensor& lse) {
    UlyssesStart start = start_ulysses(transport, in);
    const UspGroups& groups = start.groups;
    Communicator& ulysses = *groups.ulysses;
    const HeadSplit& s = start.split;
    const RowMask& row = start.row;
    auto first_q = [&](int64_t r) { return s.first_q(r); };
    Relayout *q = start.q.get(), *k = start.k.get(), *v = start.v.get();
    q->pending->wait();
    k->pending->wait();
    v->pending->wait();

    Tensor out_heads = empty(q->receive.shape(), DType::f32, in.q.device());
    Tensor lse_heads = empty({q->receive.size(0), s.q_heads}, DType::f32, in.q.device());
    if (!groups.ring) {
        AttentionComputeTimer timer;
        backend(in.q).attention_block_forward(out_heads, lse_heads, q->receive, k->receive, v->receive, row.mask(),
                                              in.scale);
    } else {
        const RingAttentionInputs heads = head_inputs(in, q->receive, k->receive, v->receive, row, s.kv_heads);
        if (ring_variant == RingAttnFunc::varlen_llama3) {
            varlen_llama3_forward(*groups.ring, heads, out_heads, lse_heads);
        } else {
            ring_pass_forward(*groups.ring, heads, out_heads, lse_heads);
        }
    }
    auto out_back = start_from_heads(ulysses, out_heads);
    auto lse_back = start_from_heads(ulysses, lse_heads);
    backend(out).fill(out, 0.0);
    backend(lse).fill(lse, 0.0);
    finish_from_heads(*out_back, out, first_q);
    finish_from_heads(*lse_back, lse, first_q);
}

void ulysses_backward(Communicator& transport, RingAttnFunc ring_variant, const RingAttentionInputs& in,
                      const Tensor& out, const Tensor& lse, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
    UlyssesStart start = start_ulysses(transport, in);
    const UspGroups& groups = start.groups;
    Communicator& ulysses = *groups.ulysses;
    const HeadSplit& s = start.split;
    const RowMask& row = start.row;
    auto first_q = [&](int64_t r) { return s.first_q(r); };
    auto first_kv = [&](int64_t r) { return s.first_kv(r); };
    Relayout *q = start.q.get(), *k = start.k.get(), *v = start.v.get();
    auto o = start_to_heads(ulysses, out, s.q_heads, first_q);
    auto l = start_to_heads(ulysses, lse, s.q_heads, first_q);
    auto d = start_to_heads(ulysses, dout, s.q_heads, first_q);
    for (Relayout* relayout : {q, k, v, o.get(), l.get(), d.get()}) relayout->pending->wait();

    Tensor dq_heads = zeros(q->receive.shape(), DType::f32, in.q.device());
    Tensor dk_heads = zeros(k->receive.shape(), DType::f32, in.k.device());
    Tensor dv_heads = zeros(v->receive.shape(), DType::f32, in.v.device());
    if (!groups.ring) {
        AttentionComputeTimer timer;
        backend(in.q).attention_block_backward(dq_heads, dk_heads, dv_heads, d->receive, q->receive, k->receive,
                                               v->receive, o->receive, l->receive, row.mask(), in.scale);
    } else {
        const RingAttentionInputs heads = head_inputs(in, q->receive, k->receive, v->receive, row, s.kv_heads);
        if (ring_variant == RingAttnFunc::varlen_llama3) {
            varlen_llama3_backward(*groups.ring, heads, o->receive, l->receive, d->receive, dq_heads, dk_heads,
                                   dv_heads);
        } else {
            ring_pass_backward(*groups.ring, heads, o->receive, l->receive, d->receive, dq_heads, dk_heads, dv_heads);
        }
    }
    auto dq_back = start_from_heads(ulysses, dq_heads);
    auto dk_back = start_from_heads(ulysses, dk_heads);
    auto dv_back = start_from_heads(ulysses, dv_heads);
    finish_from_heads(*dq_back, dq, first_q);
    finish_from_heads(*dk_back, dk, first_kv);
    finish_from_heads(*dv_back, dv, first_kv);
}

}  // namespace ringlm
