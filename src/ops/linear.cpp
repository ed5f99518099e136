// Linear layer without bias, PyTorch's nn.Linear weight layout:
//   y = x @ w^T                         x [T, in], w [out, in], y [T, out]
//   dx += dy @ w,   dw += dy^T @ x
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor linear(Tape& tape, const Tensor& x, const Tensor& w) {
    check_shape("linear", "w", w, {any_size, any_size});
    check_shape("linear", "x", x, {any_size, w.size(1)});
    check_floating("linear", {&x, &w});
    Tensor y = empty({x.size(0), w.size(0)}, x.dtype(), x.device());
    backend(x).gemm(y, x, w, false, true, 1.0, 0.0);
    tape.record("linear", y, [x, w](Grads& grads, const Tensor& dy) {
        // beta = 1: gemm accumulates into the gradient buffers
        backend(x).gemm(grads.of(x), dy, w, false, false, 1.0, 1.0);
        backend(x).gemm(grads.of(w), dy, x, true, false, 1.0, 1.0);
    });
    return y;
}

}  // namespace ringlm
