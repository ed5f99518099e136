// Every differentiable op. Each is one file in src/ops named after it, forward and backward
// side by side; each records one node on the tape (nothing when the tape is in inference
// mode). Inputs are checked here, with errors that name the op and the shapes.
#pragma once

#include "autograd/tape.h"
#include "backend/backend.h"
#include "ops/id_range.h"

#include <optional>

namespace ringlm {

// The same elements in another shape (a view: no copy forward, none backward either).
Tensor reshape(Tape& tape, const Tensor& x, Shape shape);
// y = x @ w^T                      x [T, in], w [out, in] (PyTorch's nn.Linear layout), y [T, out]
// A bf16 x (from to_bf16) multiplies w_bf16, w's bf16 copy, with f32 accumulation: y is f32
// and the gradient goes to w (f32). With a bias b [out] (Qwen2's q/k/v): y = x @ w^T + b,
// db += sum over rows of dy (b stays f32 in bf16 mode: it is added to the f32 product).
// bf16 activations: `y_dtype` bf16 rounds y to bf16 after the f32 accumulation (bf16 x only).
Tensor linear(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& w_bf16 = Tensor(),
              const Tensor& bias = Tensor(), std::optional<DType> y_dtype = {});
// bf16(x) for the bf16 matmuls; the gradient passes back unchanged (in f32)
Tensor to_bf16(Tape& tape, const Tensor& x);
// c = op(a) @ op(b), 2-D or batched 3-D (see Backend::gemm)
Tensor matmul(Tape& tape, const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false);
// elementwise, same shapes
Tensor add(Tape& tape, const Tensor& a, const Tensor& b);
Tensor mul(Tape& tape, const Tensor& a, const Tensor& b);
Tensor scale(Tape& tape, const Tensor& x, double alpha);
// s = sum(x), shape [1]
Tensor sum(Tape& tape, const Tensor& x);
// y = x / sqrt(mean(x^2) + eps) * w          x [T, C], w [C]
// y is written in `y_dtype` (default x's): bf16 for a bf16 matmul's input, f32 math inside.
Tensor rmsnorm(Tape& tape, const Tensor& x, const Tensor& w, double eps, std::optional<DType> y_dtype = {});
// rotary embedding, HF rotate-halves layout     x [T, H, D], position_ids i32 [T]
// angle(t, i) = position_ids[t] * inverse_frequency[i], cos and sin multiplied by `scale`
// (YaRN's attention factor). The table is f64 [D/2] on x's device; model/rope_scaling.h fills
// it for every scaling rule.
struct RopeFrequencies {
    Tensor inverse_frequency;
    double scale = 1.0;
};
// The unscaled table theta^(-2i/D), i < D/2, on `device`.
RopeFrequencies default_rope_frequencies(double theta, int64_t head_dim, Device device = Device::cpu);
// A host table of D/2 values moved to `device`.
RopeFrequencies rope_frequencies(const std::vector<double>& inverse_frequency, double scale, Device device);
Tensor rope(Tape& tape, const Tensor& x, const Tensor& position_ids, const RopeFrequencies& frequencies);
Tensor rope(Tape& tape, const Tensor& x, const Tensor& position_ids, double theta);  // the default table
// silu(gate) * up                             gate, up [T, F]
Tensor swiglu(Tape& tape, const Tensor& gate, const Tensor& up);
// Llama's MLP w2(silu(w1 x) * w3 x) over `tile_rows` tokens at a time, forward and again in
// backward, so only x is saved (the [T, F] intermediates exist one tile at a time).
// x [T, C], w1 and w3 [F, C], w2 [C, F] -> [T, C]. A bf16 x (from to_bf16) multiplies the
// weights' bf16 copies with f32 accumulation and rounds as linear, swiglu and to_bf16 would.
Tensor tiled_mlp(Tape& tape, const Tensor& x, const Tensor& w1, const Tensor& w3, const Tensor& w2,
                 int64_t tile_rows, const Tensor& w1_bf16 = Tensor(), const Tensor& w3_bf16 = Tensor(),
                 const Tensor& w2_bf16 = Tensor());
// table[ids]                                  table [V, C], ids i32 [T] -> [T, C]
// `ids_range`: the ids' range when the caller knows it on the host (a TokenBatch's); a device
// tensor is then checked against the vocabulary without being read.
Tensor embedding(Tape& tape, const Tensor& table, const Tensor& ids, const KnownIdRange& ids_range = {});
// softmax over the last dimension
Tensor softmax(Tape& tape, const Tensor& x);
// Per-token loss -log softmax(hidden @ classifier^T)[label], 0 where label == -100.
// hidden [T, C], classifier [V, C], labels i32 [T] -> losses [T]. The logits are made
// `chunk_rows` tokens at a time (forward and again in backward), so the [T, V] logits
// tensor never exists. A bf16 hidden (from to_bf16) multiplies classifier_bf16, the
// classifier's bf16 copy, into f32 logits; the softmax, the lse and the losses stay f32.
// `labels_range`: as embedding's ids_range, over the labels other than -100.
Tensor cross_entropy(Tape& tape, const Tensor& hidden, const Tensor& classifier, const Tensor& labels,
                     int64_t chunk_rows = 256, const Tensor& classifier_bf16 = Tensor(),
                     const KnownIdRange& labels_range = {});
// Attention of q against one block of k, v (see Backend::attention_block_forward).
// Returns out [Tq, H, D]; the lse [Tq, H] is saved for backward and returned through *lse
// when asked.
Tensor attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                 double scale, Tensor* lse = nullptr);

}  // namespace ringlm
