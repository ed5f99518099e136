// Elementwise product of two tensors of one shape:
//   y = a * b,   da += dy * b,   db += dy * a
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor mul(Tape& tape, const Tensor& a, const Tensor& b) {
    if (!a.defined() || !b.defined()) fail("mul: an input is undefined");
    check_same_shape("mul", a, b);
    check_floating("mul", {&a, &b});
    Tensor y = empty_like(a);
    backend(a).mul(y, a, b);
    tape.record("mul", y, [a, b](Grads& grads, const Tensor& dy) {
        Backend& compute = backend(dy);
        Tensor product = empty_like(dy);
        compute.mul(product, dy, b);
        compute.axpy(grads.of(a), product, 1.0);
        compute.mul(product, dy, a);
        compute.axpy(grads.of(b), product, 1.0);
    });
    return y;
}

}  // namespace ringlm
