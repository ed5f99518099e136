// Elementwise sum of two tensors of one shape:
//   y = a + b,   da += dy,   db += dy
// A bf16 a or b (a bf16 block's output added to the residual stream) is added in f32, and y is
// f32 (f64 for f64 inputs).
// Backward reads neither a nor b: the node names their gradients by descriptor only.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) {
    if (!a.defined() || !b.defined()) fail("add: an input is undefined");
    check_same_shape("add", a, b);
    check_activations("add", {&a, &b});
    Tensor y = empty(a.shape(), compute_dtype(a.dtype()), a.device());  // the f32 residual stream
    backend(a).add(y, a, b);
    tape.record("add", y, [a = TensorDescriptor(a), b = TensorDescriptor(b)](Grads& grads, const Tensor& dy) {
        backend(dy).axpy(grads.of(a), dy, 1.0);
        backend(dy).axpy(grads.of(b), dy, 1.0);
    });
    return y;
}

}  // namespace ringlm
