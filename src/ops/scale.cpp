// Multiplication by a constant:
//   y = alpha * x,   dx += alpha * dy          (x itself is not saved: backward needs dy only)
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor scale(Tape& tape, const Tensor& x, double alpha) {
    if (!x.defined()) fail("scale: x is undefined");
    check_floating("scale", {&x});
    Tensor y = empty_like(x);
    backend(x).copy(y, x);
    backend(x).scale(y, alpha);
    tape.record("scale", y, [x = TensorDescriptor(x), alpha](Grads& grads, const Tensor& dy) {
        backend(dy).axpy(grads.of(x), dy, alpha);
    });
    return y;
}

}  // namespace ringlm
