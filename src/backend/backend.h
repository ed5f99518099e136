// Backend: the one interface every kernel goes through. The CPU backend (src/backend/cpu) is
// the reference; the CUDA backend (cuda/) implements the same calls. Ops (src/ops) choose the
// backend from their inputs' device and never touch memory themselves.
//
// Conventions, the same for every kernel:
// - Tensors are contiguous row-major. Floating kernels accept f32 and f64 (f64 exists so
//   gradients can be checked against finite differences); all floating operands of one call
//   share a dtype, except gemm's bf16 operands with an f32 result (see gemm) and copy. Token ids, labels, positions, global indices and segment ids are i32.
// - Backward kernels ACCUMULATE into their gradient outputs (dx += ...), because a tensor
//   used twice receives two contributions. Forward kernels overwrite their outputs.
// - Shapes are checked by the ops; kernels trust them.
#pragma once

#include "backend/attention_tiles.h"
#include "tensor/tensor.h"

#include <initializer_list>
#include <optional>

namespace ringlm {

// Visibility rule of the attention block: key j is visible to query i iff
//   q_segment[i] == k_segment[j]  and  (!causal or k_index[j] <= q_index[i]).
// Indices are global token positions in the whole (unsharded) row, so one kernel serves the
// contiguous, zigzag and striped chunk layouts of ring attention.
struct AttentionMask {
    Tensor q_index;    // i32 [Tq]
    Tensor q_segment;  // i32 [Tq]
    Tensor k_index;    // i32 [Tk]
    Tensor k_segment;  // i32 [Tk]
    bool causal = true;
    // What the host knows of the queries and keys (the batch's chunk ranges), exactly; unset:
    // a kernel that needs it reads the tensors (a device reduction and a wait).
    std::optional<KnownTokens> known_q, known_k;
};

// One AdamW step (Loshchilov & Hutter, decoupled weight decay), with the gradient scale
// (1 / loss tokens of the global batch) folded in:
//   g = grad * grad_scale;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * p )
struct AdamWStep {
    float learning_rate = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.0f;
    float grad_scale = 1.0f;
    int64_t step = 1;  // t, counted from 1
    // Clipping decided on the parameter's device, so the host need not read the norm first:
    // given gradient_sum_squares (f64 [1] on that device: the sum of every squared gradient of
    // the model, not just this tensor's), grad_scale is replaced by
    //   norm = sqrt(gradient_sum_squares) / gradient_divisor,
    //   grad_scale = clipped_gradient_scale(norm, max_grad_norm, gradient_divisor)  (gradient_clip.h)
    // and a non-finite norm leaves param, m and v as they are (the step is skipped).
    Tensor gradient_sum_squares;
    double max_grad_norm = 0.0;
    double gradient_divisor = 1.0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;

    // --- memory ------------------------------------------------------------------------
    // dst = src, converting dtype (f32 <-> f64 <-> bf16) and device (host <-> this device).
    virtual void copy(Tensor& dst, const Tensor& src) = 0;
    virtual void fill(Tensor& x, double value) = 0;

    // --- matrix multiply ---------------------------------------------------------------
    // C = alpha * op(A) @ op(B) + beta * C, op(X) = X^T when transpose_x.
    // 2-D: A [M, K] (or [K, M]), B [K, N] (or [N, K]), C [M, N].
    // 3-D: batched over dim 0 with the same shapes per batch; a 2-D B is shared by all.
    // Dtypes: a, b, c share f32 or f64, or a and b are bf16 and c is f32 (bf16 matmuls with f32
    // accumulation: the CPU widens the operands to f32, exactly, and runs its f32 gemm).
    virtual void gemm(Tensor& c, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b,
                      double alpha, double beta) = 0;

    // --- elementwise and reductions ----------------------------------------------------
    virtual void add(Tensor& out, const Tensor& a, const Tensor& b) = 0;  // out = a + b
    virtual void mul(Tensor& out, const Tensor& a, const Tensor& b) = 0;  // out = a * b
    virtual void axpy(Tensor& y, const Tensor& x, double alpha) = 0;      // y += alpha * x
    virtual void scale(Tensor& x, double alpha) = 0;                      // x *= alpha
    virtual double sum(const Tensor& x) = 0;                              // accumulated in f64
    virtual double dot(const Tensor& a, const Tensor& b) = 0;             // accumulated in f64
    // total [1] = sum of x's elements as sum() adds them, written on x's device: a device never
    // waits for the host to read it (the sum op, so a step's loss stays on the GPU).
    virtual void sum_to(Tensor& total, const Tensor& x) = 0;
    // total [1] = dot(a, b) as dot() adds them, written on the device the same way (a
    // gradient's sum of squares for clipping, without a wait).
    virtual void dot_to(Tensor& total, const Tensor& a, const Tensor& b) = 0;
    // y += s[0] for every element of y; s [1] of y's dtype on y's device (the sum op's backward).
    virtual void add_scalar(Tensor& y, const Tensor& s) = 0;
    // Bias of a linear layer, y [rows, C], b [C]: y[r, c] += b[c] (forward);
    // db[c] += sum over r of dy[r, c] (its backward), summed in row order.
    virtual void add_bias(Tensor& y, const Tensor& b) = 0;
    virtual void sum_rows(Tensor& db, const Tensor& dy) = 0;

    // --- RMSNorm over the last dimension -----------------------------------------------
    // y = x * inv_rms * w,  inv_rms = 1 / sqrt(mean(x^2) + eps)     x, y [T, C], w [C], inv_rms [T]
    virtual void rmsnorm_forward(Tensor& y, Tensor& inv_rms, const Tensor& x, const Tensor& w, double eps) = 0;
    // x_hat = x * inv_rms;  dw += sum_t dy * x_hat;
    // dx += inv_rms * (w*dy - x_hat * mean(w*dy * x_hat))
    virtual void rmsnorm_backward(Tensor& dx, Tensor& dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                                  const Tensor& inv_rms) = 0;

    // --- RoPE, Hugging Face "rotate halves" layout ---------------------------------------
    // x, y [T, H, D]; for i < D/2, angle = position_ids[t] * inverse_frequency[i] (f64 [D/2],
    // on the device: theta^(-2i/D) or a scaling rule's table, see model/rope_scaling.h):
    //   y[i]       = s (x[i] cos - x[i+D/2] sin)
    //   y[i+D/2]   = s (x[i+D/2] cos + x[i] sin)        s = scale (YaRN's attention factor, else 1)
    // The backward is the rotation by -angle: dx += s R(-angle) dy.
    virtual void rope_forward(Tensor& y, const Tensor& x, const Tensor& position_ids, const Tensor& inverse_frequency,
                              double scale) = 0;
    virtual void rope_backward(Tensor& dx, const Tensor& dy, const Tensor& position_ids,
                               const Tensor& inverse_frequency, double scale) = 0;

    // --- SwiGLU: out = silu(gate) * up, silu(a) = a * sigmoid(a) -------------------------
    // dgate += dout * up * sigmoid(a) * (1 + a (1 - sigmoid(a))),   dup += dout * silu(a)
    virtual void swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) = 0;
    virtual void swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                                 const Tensor& up) = 0;

    // --- embedding: out[t] = table[ids[t]];  dtable[ids[t]] += dout[t] ---------------------
    virtual void embedding_forward(Tensor& out, const Tensor& table, const Tensor& ids) = 0;
    virtual void embedding_backward(Tensor& dtable, const Tensor& dout, const Tensor& ids) = 0;

    // --- softmax over the last dimension: dx += y * (dy - sum(dy * y)) ---------------------
    virtual void softmax_forward(Tensor& y, const Tensor& x) = 0;
    virtual void softmax_backward(Tensor& dx, const Tensor& dy, const Tensor& y) = 0;

    // --- cross-entropy on one chunk of logits [R, V], labels i32 [R] ----------------------
    // lse[r] = log sum_v exp(logits[r, v]);  losses[r] = lse[r] - logits[r, label[r]],
    // and 0 (lse too) where label[r] == -100.
    virtual void cross_entropy_forward(Tensor& losses, Tensor& lse, const Tensor& logits, const Tensor& labels) = 0;
    // dlogits = dlosses[r] * (softmax(logits[r]) - onehot(label[r])), 0 for ignored rows.
    // OVERWRITES dlogits (it is a scratch chunk, and may alias logits).
    virtual void cross_entropy_backward(Tensor& dlogits, const Tensor& logits, const Tensor& lse,
                                        const Tensor& labels, const Tensor& dlosses) = 0;

    // --- attention block (flash-style, O(T) memory) ---------------------------------------
    // q [Tq, H, D], k, v [Tk, Hkv, D] with H % Hkv == 0 (query head h reads KV head
    // h / (H / Hkv)); out [Tq, H, D]; lse [Tq, H] (f32 for f32/bf16 inputs, f64 for f64).
    // out_i = sum_j softmax_j(scale * q_i . k_j over visible j) v_j; a row that sees no key
    // gets out = 0 and lse = -inf.
    virtual void attention_block_forward(Tensor& out, Tensor& lse, const Tensor& q, const Tensor& k,
                                         const Tensor& v, const AttentionMask& mask, double scale) = 0;
    // With P_ij = exp(scale q_i.k_j - lse_i) (visible pairs) and delta_i = sum(dout_i * out_i):
    //   dv_j += sum_i P_ij dout_i;   dS_ij = P_ij (dout_i . v_j - delta_i)
    //   dq_i += scale sum_j dS_ij k_j;   dk_j += scale sum_i dS_ij q_i
    // out and lse are the FINAL ones (after merging ring blocks), so the same kernel serves
    // each block of a ring.
    virtual void attention_block_backward(Tensor& dq, Tensor& dk, Tensor& dv, const Tensor& dout,
                                          const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out,
                                          const Tensor& lse, const AttentionMask& mask, double scale) = 0;
    // --- attention merge: two partial attentions over disjoint key sets (ring attention) ---
    // In place, out, out_block [T, H, D], lse, lse_block [T, H] (f32, or f64 for f64 outputs):
    //   lse' = max(lse, lse_block) + log1p(exp(min(lse, lse_block) - max(lse, lse_block)))
    //   out = exp(lse - lse') out + exp(lse_block - lse') out_block;  lse = lse'
    // A side at lse = -inf (it saw no key) contributes nothing; both at -inf leave out and lse.
    virtual void attention_merge(Tensor& out, Tensor& lse, const Tensor& out_block, const Tensor& lse_block) = 0;

    // --- column slices (varlen_llama3: a group of heads as one contiguous tensor) ----------
    // Both tensors are 2-D with the same rows R; [T, H, D] tensors are viewed as [T, H*D], so
    // heads [h0, h1) are columns [h0*D, h1*D). Floating, one dtype for both.
    //   gather_columns:       src [R, Cs], dst [R, Cd]:  dst[r, c] = src[r, begin + c],   c < Cd
    //   scatter_add_columns:  src [R, Cs], dst [R, Cd]:  dst[r, begin + c] += src[r, c],  c < Cs
    virtual void gather_columns(Tensor& dst, const Tensor& src, int64_t begin) = 0;
    virtual void scatter_add_columns(Tensor& dst, const Tensor& src, int64_t begin) = 0;

    // --- activation offloading (gradient_checkpointing: offload) ---------------------------
    // offload(x): x's values in host memory; restore(offloaded): them back on this backend's
    // device. The host copy exists for restore alone and is not to be read on the host: the
    // CUDA backend puts it in page-locked memory and queues both copies on its stream without
    // waiting (every later use of either memory is queued after them); the CPU copies.
    virtual Tensor offload(const Tensor& x) = 0;
    virtual Tensor restore(const Tensor& offloaded) = 0;

    // --- communication staging --------------------------------------------------------------
    // A host tensor that a device tensor passes through on its way to or from the network (the
    // MPI transport, ranks sharing a GPU): page-locked on CUDA, from a cache of its own, so both
    // copies run at the DMA's speed (each still waits for its copy; nothing queued reads it
    // later); plain host memory on the CPU.
    virtual Tensor empty_staging(Shape shape, DType dtype) = 0;

    // --- optimizer ---------------------------------------------------------------------
    virtual void adamw_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& step) = 0;
};

// --- bf16 activations through f32 kernels ----------------------------------------------
// A kernel without a bf16 version of its own (all of the CPU's; the GPU's attention) serves
// bf16 operands this way: each bf16 operand is widened to f32 (exact), the f32 kernel runs,
// and each bf16 output is rounded back to nearest even: bf16 in, f32 math, bf16 out, the math
// a native bf16 kernel does. f32 and f64 tensors pass through untouched. On x's device.
bool any_bf16(std::initializer_list<const Tensor*> tensors);
Tensor widened(const Tensor& x);  // x itself, or an f32 copy of a bf16 x
// Where a kernel writes output y: y itself, or an f32 tensor of y's shape for a bf16 y
// (`keep_values`: holding y's values, for kernels that accumulate into y).
Tensor f32_output(const Tensor& y, bool keep_values = false);
void narrow_into(Tensor& y, const Tensor& computed);  // y = bf16(computed), unless computed is y

// The backend for a device; the CPU backend always exists, the CUDA one when built and a
// GPU is present.
Backend& backend_for(Device device);
inline Backend& backend(const Tensor& x) { return backend_for(x.device()); }
void register_backend(Device device, Backend* backend);

}  // namespace ringlm
