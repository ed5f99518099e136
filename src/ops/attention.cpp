// Attention of queries against one block of keys and values, with the global-index/segment
// mask of ring attention (see Backend::attention_block_forward):
//   out_i = sum_j softmax_j(scale q_i . k_j over visible j) v_j,   lse_i = log sum_j exp(...)
//   q [Tq, H, D], k, v [Tk, Hkv, D], H % Hkv == 0 (GQA)
// Backward (flash-attention 2): with P_ij = exp(scale q_i.k_j - lse_i), delta_i = dout_i.out_i
//   dv_j += sum_i P_ij dout_i;  dS_ij = P_ij (dout_i.v_j - delta_i)
//   dq_i += scale sum_j dS_ij k_j;  dk_j += scale sum_i dS_ij q_i
// The node saves q, k, v, out, lse and the mask: O(T) memory, no [Tq, Tk] matrix. The lse is
// returned for inspection and merging; no gradient flows back through it.
// bf16 q, k, v (bf16 activations) give a bf16 out and an f32 lse, computed in f32; the
// gradients are f32.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor attention(Tape& tape, const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask,
                 double scale, Tensor* lse_out) {
    check_shape("attention", "q", q, {any_size, any_size, any_size});
    check_shape("attention", "k", k, {any_size, any_size, q.size(2)});
    check_shape("attention", "v", v, {k.size(0), k.size(1), q.size(2)});
    check_activations("attention", {&q, &k, &v});
    const int64_t Tq = q.size(0), H = q.size(1), Tk = k.size(0), Hkv = k.size(1);
    if (Hkv == 0 || H % Hkv != 0)
        fail("attention: {} query heads (q {}) are not a multiple of {} kv heads (k {}); use n_heads divisible "
             "by n_kv_heads",
             H, q.shape(), Hkv, k.shape());
    check_shape("attention", "mask.q_index", mask.q_index, {Tq});
    check_shape("attention", "mask.q_segment", mask.q_segment, {Tq});
    check_shape("attention", "mask.k_index", mask.k_index, {Tk});
    check_shape("attention", "mask.k_segment", mask.k_segment, {Tk});
    check_dtype("attention", "mask.q_index", mask.q_index, DType::i32);
    check_dtype("attention", "mask.q_segment", mask.q_segment, DType::i32);
    check_dtype("attention", "mask.k_index", mask.k_index, DType::i32);
    check_dtype("attention", "mask.k_segment", mask.k_segment, DType::i32);

    Tensor out = empty_like(q);
    Tensor lse = empty({Tq, H}, compute_dtype(q.dtype()), q.device());
    backend(q).attention_block_forward(out, lse, q, k, v, mask, scale);
    tape.record("attention", out, [q, k, v, out, lse, mask, scale](Grads& grads, const Tensor& dout) {
        Tensor& dq = grads.of(q);
        Tensor& dk = grads.of(k);
        Tensor& dv = grads.of(v);
        backend(q).attention_block_backward(dq, dk, dv, dout, q, k, v, out, lse, mask, scale);
    });
    if (lse_out) *lse_out = lse;
    return out;
}

}  // namespace ringlm
