// cuDNN's fused flash attention (SDPA through the cuDNN graph API) for the attention blocks
// it can serve, as an alternative to the own tiled f32 kernel (attention_block*.cu). Same
// contract as Backend::attention_block_forward / _backward (src/backend/backend.h): f32 q, k,
// v [T, heads, D] in, f32 out and lse [Tq, H] out, gradients ACCUMULATED into f32 dq, dk, dv.
//
// Precision: cuDNN's flash kernels take bf16 Q, K, V, O, dO (f32 accumulation, f32 softmax
// stats), so this path converts on the device (f32 -> bf16 in, bf16 -> f32 out): a few extra
// passes over the [T, heads, D] tensors, O(T) next to the O(T^2) attention, and bf16 accuracy
// (about 1e-2 relative) instead of the tiled kernel's 1e-5.
//
// What it serves (everything else goes to the tiled kernel, see CudaBackend):
// - no segment mask: every q_segment and k_segment holds the same value;
// - either a fully visible block (non-causal, or causal with max k_index <= min q_index: the
//   earlier blocks of a ring), computed without a mask,
// - or the causal diagonal block: Tq == Tk and q_index == k_index == one contiguous range, so
//   key j is visible to query i iff j <= i (cuDNN's top-left causal mask, row >= column; with
//   equal ranges top-left and bottom-right alignment coincide; a diagonal block whose ranges
//   differ in length would need bottom-right alignment and falls back);
// - D a multiple of 8 and <= 128, H a multiple of Hkv (GQA/MQA); cuDNN not 9.10.0/9.10.1;
// - at least min_queries queries: decoding steps (Tq of 1 against a KV cache whose length
//   grows every token) stay on the tiled kernel instead of building one plan per length.
// Deciding this takes the mask's facts from the host when the caller passes them
// (AttentionMask::known_q / known_k: the batch's chunk ranges, which the model, the ring pass,
// varlen_llama3 and Ulysses pass), and by the same rule (backend/attention_tiles.h mask_kind)
// otherwise reads the mask on the device: one small kernel and a stream synchronisation.
//
// LSE: cuDNN's softmax stats are max + log(sum exp(s - max)) of the SCALED scores s = scale
// q.k (the scale multiplies the scores before the softmax in the graph), in natural log:
// exactly ringlm's lse_i = log sum_j exp(scale q_i.k_j). cuDNN keeps them as packed [H, Tq];
// ringlm's lse is [Tq, H], so they are transposed on the way out and in.
#pragma once

#include "backend/backend.h"

#include <cuda_runtime.h>

#include <memory>
#include <string>

namespace ringlm {

class CudnnAttention {
public:
    static constexpr int64_t min_queries = 64;

    explicit CudnnAttention(cudaStream_t stream);
    ~CudnnAttention();

    // False when the build found no cuDNN (every call then reports why).
    static bool built_with_cudnn();

    // Empty when cuDNN can serve attention_block_forward/_backward with these operands;
    // otherwise why not (for logs and the GPU check). Sets *causal to the mask cuDNN needs
    // (true: the diagonal block; false: no mask). Synchronises the stream unless the mask's
    // known_q and known_k are set (see above).
    std::string unsupported_reason(const Tensor& q, const Tensor& k, const AttentionMask& mask, bool* causal);

    // As Backend::attention_block_forward / _backward for a case unsupported_reason() accepted.
    // Throws ringlm::Error with cuDNN's message when cuDNN cannot build or run the graph.
    void forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                 double scale);
    void backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout, const Tensor& q, const Tensor& k,
                  const Tensor& v, const Tensor& out, const Tensor& lse, bool causal, double scale);

    // The engine cuDNN chose for the last forward/backward ("heuristics A config 0 of 3").
    std::string last_engine() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ringlm
