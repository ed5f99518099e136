// Ring attention (DESIGN.md "Ring attention"): causal attention of this rank's chunk of
// queries against the keys/values of the whole sequence-parallel group, without any rank
// holding the whole sequence.
//
// Every variant computes with the attention block kernel and the global-index/segment mask,
// so all of them respect document boundaries in packed rows. The chunk layout (contiguous,
// zigzag, striped) is the data layer's business (src/data/batch.h); here it only shows up as
// which global indices a rank holds. Two implementations:
//   ring pass  (batch_ring, batch_zigzag, batch_stripe, ring_pass.cpp): K/V blocks travel
//              around the ring, S steps, the next block in flight while this one computes;
//              blocks merge with their log-sum-exp. Backward: dQ stays home, dK/dV travel
//              with their K/V and arrive home after S steps.
//   all-gather (varlen_llama3, varlen_llama3.cpp): K/V gathered heads_k_stride KV heads at a
//              time (the next group in flight while this one computes), local attention;
//              backward reduce-scatters dK/dV.
// And over heads instead of tokens (ulysses_attention.cpp, RingAttentionInputs::ulysses_degree):
//   Ulysses    all-to-all to [all tokens, H/S heads], local attention, all-to-all back;
//   USP        Ulysses over U adjacent ranks, then one of the above over the R = S / U ranks.
// Partial outputs, LSE, dQ and the travelling dK/dV are f32.
#pragma once

#include "autograd/tape.h"
#include "model/llama.h"
#include "parallel/parallel_settings.h"
#include "data/token_batch.h"
#include "parallel/communicator.h"

#include <chrono>

namespace ringlm {

// What each implementation receives: this rank's tensors.
struct RingAttentionInputs {
    Tensor q;             // [T, H, D]
    Tensor k, v;          // [T, Hkv, D]
    Tensor global_index;  // i32 [T], positions in the whole row(s)
    Tensor segment_ids;   // i32 [T]
    double scale = 1.0;
    int64_t heads_k_stride = 0;  // varlen_llama3: KV heads per all-gather (0 = all)
    // Every SP rank's index/segment ranges (TokenBatch::sp_chunk_ranges), so the ring pass can
    // skip invisible blocks without reading index tensors; empty: it reads them (on the host).
    std::vector<ChunkRange> chunk_ranges;
    // Context-parallel backend (ulysses_attention.cpp): 1 = the ring variant alone; S = Ulysses
    // alone (the variant is not used); 1 < U < S = USP, Ulysses over U ranks and the variant
    // over the SP communicator's ring groups of S / U.
    int64_t ulysses_degree = 1;
};

// out [T, H, D], lse f32 [T, H]: overwritten.
void ring_pass_forward(Communicator& transport, const RingAttentionInputs& in, Tensor& out, Tensor& lse);
// dq [T, H, D], dk, dv [T, Hkv, D]: accumulated into. out and lse are the final forward's.
void ring_pass_backward(Communicator& transport, const RingAttentionInputs& in, const Tensor& out, const Tensor& lse,
                        const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv);
void varlen_llama3_forward(Communicator& transport, const RingAttentionInputs& in, Tensor& out, Tensor& lse);
void varlen_llama3_backward(Communicator& transport, const RingAttentionInputs& in, const Tensor& out, const Tensor& lse,
                            const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv);

// Ulysses (in.ulysses_degree == S) or USP (1 < in.ulysses_degree < S, ring_variant over the
// ring groups): same contract as the ring variants.
void ulysses_forward(Communicator& transport, RingAttnFunc ring_variant, const RingAttentionInputs& in, Tensor& out,
                     Tensor& lse);
void ulysses_backward(Communicator& transport, RingAttnFunc ring_variant, const RingAttentionInputs& in,
                      const Tensor& out, const Tensor& lse, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv);

// Seconds this rank spent computing inside ring attention (attention block kernels, merges,
// head slicing), whichever variant runs, since the last call, and reset it: the "attention
// compute" of the step metrics. Time blocked on the Communicator is its wait time, not this.
double take_ring_compute_seconds();
// Adds the seconds of its lifetime to that counter: one per compute phase of a variant. On an
// asynchronous device this is the time to queue the kernels; the ring wait then holds the rest.
class AttentionComputeTimer {
public:
    AttentionComputeTimer();
    ~AttentionComputeTimer();
    AttentionComputeTimer(const AttentionComputeTimer&) = delete;
    AttentionComputeTimer& operator=(const AttentionComputeTimer&) = delete;

private:
    std::chrono::steady_clock::time_point start_;
};

// A layer's attention output and LSE from the first forward of a checkpointed layer, so the
// recomputation during backward does not run the ring (or the all-gather) again.
struct AttentionReplay {
    Tensor out, lse;
};

// The op: forward through the chosen variant, one tape node whose backward runs the
// variant's backward. With `replay`: an empty replay is filled; a filled one is used
// instead of computing (the recompute pass of activation checkpointing) and emptied.
Tensor ring_attention(Tape& tape, Communicator& transport, RingAttnFunc variant, const RingAttentionInputs& in,
                      AttentionReplay* replay = nullptr);

// Ring attention as the model's attention (ForwardOptions::attention): the variant over
// `transport` (the SP communicator, which must outlive the function). With activation
// checkpointing each layer's attention output and LSE from the first forward are kept (per
// micro batch, recognised by its input ids tensor), so the recomputation in backward never runs
// the ring again.
AttentionFunction sequence_parallel_attention(Communicator& transport, RingAttnFunc variant, int64_t heads_k_stride,
                                              int64_t ulysses_degree, bool checkpointing, int64_t n_layers);

}  // namespace ringlm
