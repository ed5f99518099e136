// The ring pass of ring attention (batch_ring, batch_zigzag, batch_stripe): K/V blocks travel
// around the sequence-parallel group, S steps, while each rank's queries stay home.
//
// At step t rank r holds the K/V block of rank (r - t) mod S. The chunk layout only shows up
// in the global indices the block carries with it, so one attention block kernel with the
// global-index/segment mask serves contiguous, zigzag and striped chunks alike.
//
// Double buffering: at each step the next block is already in flight (sent from the block being
// computed on, received into the other buffer), so the wire time hides behind the compute;
// a buffer is never sent from or received into while a kernel reads it.
//
// Backward: dQ accumulates at home. Each block's dK/dV accumulator travels with it: a rank adds
// its contribution and passes it on, so after S shifts every accumulator is back at its owner.
// The contribution of step t is computed into a scratch block while the accumulator from step
// t-1 is still on the wire, then added to it on arrival.
#include "parallel/ring_attention.h"

#include "backend/attention_tiles.h"
#include "backend/backend.h"

#include <algorithm>

namespace ringlm {

namespace {

// A K/V block with its mask data: what travels around the ring in forward and backward.
struct KvBlock {
    Tensor k, v, index, segment;
    std::vector<Tensor> tensors() const { return {k, v, index, segment}; }
};

KvBlock empty_block_like(const KvBlock& block) {
    return {empty_like(block.k), empty_like(block.v), empty_like(block.index), empty_like(block.segment)};
}

// The ranges of the block SP rank `owner` started with: from the batch when the data layer
// gave them (no device read, so no host stall on a GPU), else read from the block's tensors.
ChunkRange block_range(const RingAttentionInputs& in, int owner, const Tensor& index, const Tensor& segment) {
    if (!in.chunk_ranges.empty()) return in.chunk_ranges.at(static_cast<size_t>(owner));
    auto on_host = [](const Tensor& x) {
        if (x.device() == Device::cpu) return x;
        Tensor host = empty(x.shape(), x.dtype(), Device::cpu);
        backend(x).copy(host, x);
        return host;
    };
    const Tensor host_index = on_host(index), host_segment = on_host(segment);
    const int32_t* indices = host_index.data<int32_t>();
    const int32_t* segments = host_segment.data<int32_t>();
    const int64_t T = index.numel();
    if (T == 0) return {};
    const auto [index_min, index_max] = std::minmax_element(indices, indices + T);
    const auto [segment_min, segment_max] = std::minmax_element(segments, segments + T);
    return ChunkRange{{*index_min, *index_max, *segment_min, *segment_max}, false};
}

// The SP rank whose block this rank holds at ring step `step`: (rank - step) mod S.
int block_owner(const Communicator& transport, int step) {
    const int S = transport.size();
    return ((transport.rank() - step) % S + S) % S;
}

// False when no key of the block can be visible to any query (causal): every key comes after
// every query (batch_ring's blocks from later ranks) or the segment ranges are disjoint. The
// kernel would find that tile by tile; skipping here saves the call. Sound for any layout (it
// only uses bounds); with the document layout every rank's ranges span its rows, so nothing
// is skipped here and the kernel's per-tile ranges do the skipping.
bool block_can_contribute(const ChunkRange& queries, const ChunkRange& keys) {
    return tiles_may_interact(queries, keys, true);
}

// The mask of this rank's queries against the block it holds at ring step `step`, with what the
// batch told of both (cuDNN's dispatch then reads nothing back).
AttentionMask mask_for(const RingAttentionInputs& in, const Communicator& transport, const KvBlock& block, int step) {
    AttentionMask mask{in.global_index, in.segment_ids, block.index, block.segment, true, {}, {}};
    if (!in.chunk_ranges.empty()) {
        mask.known_q = in.chunk_ranges.at(static_cast<size_t>(transport.rank()));
        mask.known_k = in.chunk_ranges.at(static_cast<size_t>(block_owner(transport, step)));
    }
    return mask;
}

// Ring step `step` of S: unless it is the last, send `current` on to the next rank and receive
// the previous rank's block into `next` (allocated on first use; never the block being read).
std::unique_ptr<PendingExchange> start_next_block(Communicator& transport, const KvBlock& current, KvBlock& next,
                                                  int step, int S) {
    if (step + 1 >= S) return nullptr;
    if (!next.k.defined()) next = empty_block_like(current);
    return transport.ring_shift(current.tensors(), next.tensors());
}

}  // namespace

// --- forward ------------------------------------------------------------------------------

// out, lse = the merge over the S blocks of attention_block_forward(q, block):
//   lse = lse_a + log1p(exp(lse_b - lse_a)) (max-first),  out = exp(lse_a - lse) out_a + exp(lse_b - lse) out_b
// Step 0 (the rank's own block) writes out and lse directly: the same as merging into out = 0,
// lse = -inf.
void ring_pass_forward(Communicator& transport, const RingAttentionInputs& in, Tensor& out, Tensor& lse) {
    Backend& compute = backend(in.q);
    const int S = transport.size();
    const ChunkRange queries = block_range(in, transport.rank(), in.global_index, in.segment_ids);
    KvBlock current{in.k, in.v, in.global_index, in.segment_ids};
    KvBlock buffers[2];        // the caller's k, v are never received into
    Tensor block_out, block_lse;  // one block's partial result, made when first needed

    for (int step = 0; step < S; step++) {
        KvBlock& next = buffers[step % 2];
        std::unique_ptr<PendingExchange> next_in_flight = start_next_block(transport, current, next, step, S);
        {
            AttentionComputeTimer timer;
            if (step == 0) {
                compute.attention_block_forward(out, lse, in.q, current.k, current.v,
                                                mask_for(in, transport, current, step), in.scale);
            } else if (block_can_contribute(queries, block_range(in, block_owner(transport, step), current.index,
                                                                 current.segment))) {
                if (!block_out.defined()) {
                    block_out = empty_like(out);
                    block_lse = empty_like(lse);
                }
                compute.attention_block_forward(block_out, block_lse, in.q, current.k, current.v,
                                                mask_for(in, transport, current, step), in.scale);
                compute.attention_merge(out, lse, block_out, block_lse);
            }
        }
        if (next_in_flight) {
            next_in_flight->wait();
            current = next;
        }
    }
}

// --- backward -----------------------------------------------------------------------------

// With the FINAL out and lse, each block's backward is independent of the others:
//   dq += sum over blocks of dq_block;  dk_j, dv_j += the contribution of every rank's queries,
// summed along the ring in the accumulator that travels with block j.
void ring_pass_backward(Communicator& transport, const RingAttentionInputs& in, const Tensor& out, const Tensor& lse,
                        const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
    Backend& compute = backend(in.q);
    const int S = transport.size();
    const ChunkRange queries = block_range(in, transport.rank(), in.global_index, in.segment_ids);
    KvBlock current{in.k, in.v, in.global_index, in.segment_ids};
    KvBlock buffers[2];
    // The travelling accumulators (f32): `sending` leaves this step, `arriving` receives the
    // previous rank's; `block` holds this step's contribution while `arriving` is on the wire.
    Tensor sending_dk = zeros(in.k.shape(), DType::f32, in.k.device());
    Tensor sending_dv = zeros(in.v.shape(), DType::f32, in.v.device());
    Tensor arriving_dk = empty_like(sending_dk), arriving_dv = empty_like(sending_dv);
    Tensor block_dk, block_dv;
    std::unique_ptr<PendingExchange> gradients_in_flight;

    for (int step = 0; step < S; step++) {
        KvBlock& next = buffers[step % 2];
        std::unique_ptr<PendingExchange> next_in_flight = start_next_block(transport, current, next, step, S);
        if (step == 0) {
            // the own block starts its accumulator here
            AttentionComputeTimer timer;
            compute.attention_block_backward(dq, sending_dk, sending_dv, dout, in.q, current.k, current.v, out, lse,
                                             mask_for(in, transport, current, step), in.scale);
        } else {
            const ChunkRange keys = block_range(in, block_owner(transport, step), current.index, current.segment);
            const bool contributes = block_can_contribute(queries, keys);
            if (contributes) {
                AttentionComputeTimer timer;
                if (!block_dk.defined()) {
                    block_dk = empty_like(sending_dk);
                    block_dv = empty_like(sending_dv);
                }
                compute.fill(block_dk, 0.0);
                compute.fill(block_dv, 0.0);
                compute.attention_block_backward(dq, block_dk, block_dv, dout, in.q, current.k, current.v, out, lse,
                                                 mask_for(in, transport, current, step), in.scale);
            }
            // this block's accumulator, sent by the previous rank at its step t-1
            gradients_in_flight->wait();
            if (contributes) {
                AttentionComputeTimer timer;
                compute.axpy(arriving_dk, block_dk, 1.0);
                compute.axpy(arriving_dv, block_dv, 1.0);
            }
            std::swap(sending_dk, arriving_dk);
            std::swap(sending_dv, arriving_dv);
        }
        if (S > 1) gradients_in_flight = transport.ring_shift({sending_dk, sending_dv}, {arriving_dk, arriving_dv});
        if (next_in_flight) {
            next_in_flight->wait();
            current = next;
        }
    }

    // After S shifts the accumulator that arrives is this rank's own block's (S = 1: it never left).
    if (gradients_in_flight) gradients_in_flight->wait();
    const Tensor& home_dk = S > 1 ? arriving_dk : sending_dk;
    const Tensor& home_dv = S > 1 ? arriving_dv : sending_dv;
    AttentionComputeTimer timer;
    compute.axpy(dk, home_dk, 1.0);
    compute.axpy(dv, home_dv, 1.0);
}

}  // namespace ringlm
