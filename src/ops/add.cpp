// Elementwise sum of two tensors of one shape:
//   y = a + b,   da += dy,   db += dy
// Backward reads neither a nor b: the node names their gradients by descriptor only.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor add(Tape& tape, const Tensor& a, const Tensor& b) {
    if (!a.defined() || !b.defined()) fail("add: an input is undefined");
    check_same_shape("add", a, b);
    check_floating("add", {&a, &b});
    Tensor y = empty_like(a);
    backend(a).add(y, a, b);
    tape.record("add", y, [a = TensorDescriptor(a), b = TensorDescriptor(b)](Grads& grads, const Tensor& dy) {
        backend(dy).axpy(grads.of(a), dy, 1.0);
        backend(dy).axpy(grads.of(b), dy, 1.0);
    });
    return y;
}

}  // namespace ringlm
