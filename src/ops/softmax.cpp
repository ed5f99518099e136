// Softmax over the last dimension, each row on its own:
//   y = exp(x - max(x)) / sum(exp(x - max(x)))
//   dx += y * (dy - sum(dy * y))
// The backward needs only y, so y is what the node saves (and x's descriptor, for dx).
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor softmax(Tape& tape, const Tensor& x) {
    if (!x.defined()) fail("softmax: x is undefined");
    if (x.dim() < 1 || x.cols() == 0) fail("softmax: x {} needs a non-empty last dimension", x.describe());
    check_floating("softmax", {&x});
    Tensor y = empty_like(x);
    backend(x).softmax_forward(y, x);
    tape.record("softmax", y, [x = TensorDescriptor(x), y](Grads& grads, const Tensor& dy) {
        backend(dy).softmax_backward(grads.of(x), dy, y);
    });
    return y;
}

}  // namespace ringlm
