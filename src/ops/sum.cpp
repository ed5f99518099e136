// Sum of all elements (accumulated in f64 by the backend), a tensor of shape [1]:
//   s = sum_i x_i,   dx_i += ds[0]
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor sum(Tape& tape, const Tensor& x) {
    if (!x.defined()) fail("sum: x is undefined");
    check_floating("sum", {&x});
    Tensor s = empty({1}, x.dtype(), x.device());
    backend(x).sum_to(s, x);  // on x's device: nothing waits for it here
    // backward needs x's shape, not its values: x itself is not saved
    tape.record("sum", s, [x = TensorDescriptor(x)](Grads& grads, const Tensor& ds) {
        backend_for(x.device).add_scalar(grads.of(x), ds);
    });
    return s;
}

}  // namespace ringlm
