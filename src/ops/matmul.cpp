// Matrix product, 2-D or batched 3-D (Backend::gemm semantics), op(X) = X^T when transposed:
//   C = op(A) @ op(B)           op(A) [M, K], op(B) [K, N], C [M, N]  (each per batch)
//   d op(A) = dC @ op(B)^T,   d op(B) = op(A)^T @ dC, hence per transpose flag:
//     dA += dC @ op(B)^T           (A not transposed)
//     dA += op(B) @ dC^T           (A transposed: dA = (d op(A))^T)
//     dB += op(A)^T @ dC           (B not transposed)
//     dB += dC^T @ op(A)           (B transposed)
// A 2-D B shared by a batched A receives the sum over the batch.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

namespace {

// The four formulas above for one 2-D product or one batched product (A, B, dC all 3-D).
void matmul_backward(Tensor& da, Tensor& db, const Tensor& dc, const Tensor& a, const Tensor& b, bool transpose_a,
                     bool transpose_b) {
    Backend& compute = backend(a);
    if (!transpose_a) {
        compute.gemm(da, dc, b, false, !transpose_b, 1.0, 1.0);
    } else {
        compute.gemm(da, b, dc, transpose_b, true, 1.0, 1.0);
    }
    if (!transpose_b) {
        compute.gemm(db, a, dc, !transpose_a, false, 1.0, 1.0);
    } else {
        compute.gemm(db, dc, a, true, transpose_a, 1.0, 1.0);
    }
}

// Batch i of a 3-D tensor as a 2-D view.
Tensor batch_item(const Tensor& x, int64_t i) { return x.rows(i, i + 1).view({x.size(1), x.size(2)}); }

}  // namespace

Tensor matmul(Tape& tape, const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b) {
    if (!a.defined() || !b.defined()) fail("matmul: an input is undefined");
    if (a.dim() != 2 && a.dim() != 3) fail("matmul: a must be 2-D or 3-D, got {}", a.describe());
    if (b.dim() != 2 && b.dim() != a.dim())
        fail("matmul: b must be 2-D or, for a batched a, 3-D; got a {} and b {}", a.describe(), b.describe());
    check_floating("matmul", {&a, &b});
    const bool batched = a.dim() == 3, shared_b = batched && b.dim() == 2;
    if (batched && !shared_b && a.size(0) != b.size(0))
        fail("matmul: batch sizes differ, a {} and b {}", a.describe(), b.describe());
    const int64_t M = transpose_a ? a.size(-1) : a.size(-2);
    const int64_t K = transpose_a ? a.size(-2) : a.size(-1);
    const int64_t K_b = transpose_b ? b.size(-1) : b.size(-2);
    const int64_t N = transpose_b ? b.size(-2) : b.size(-1);
    if (K != K_b)
        fail("matmul: inner sizes differ, op(a) is {}x{} and op(b) {}x{} (a {}, b {}, transpose_a {}, transpose_b {})",
             M, K, K_b, N, a.shape(), b.shape(), transpose_a, transpose_b);

    Tensor c = batched ? empty({a.size(0), M, N}, a.dtype(), a.device()) : empty({M, N}, a.dtype(), a.device());
    backend(a).gemm(c, a, b, transpose_a, transpose_b, 1.0, 0.0);
    tape.record("matmul", c, [a, b, transpose_a, transpose_b, shared_b](Grads& grads, const Tensor& dc) {
        Tensor& da = grads.of(a);
        Tensor& db = grads.of(b);
        if (!shared_b) {
            matmul_backward(da, db, dc, a, b, transpose_a, transpose_b);
            return;
        }
        // gemm batches only over its first operand, and dB sums over the batch: one 2-D
        // product per batch item, each accumulating into the shared dB.
        for (int64_t i = 0; i < a.size(0); i++) {
            Tensor da_item = batch_item(da, i);
            matmul_backward(da_item, db, batch_item(dc, i), batch_item(a, i), b, transpose_a, transpose_b);
        }
    });
    return c;
}

}  // namespace ringlm
