// reshape: y is x's storage in another shape. A view gets a tensor id of its own, so the
// gradient needs this node to find its way back to x; it hands dy over without copying.
// The node keeps x's descriptor, not x: y shares x's storage anyway while y is alive.
#include "ops/ops.h"

namespace ringlm {

Tensor reshape(Tape& tape, const Tensor& x, Shape shape) {
    Tensor y = x.view(shape);
    tape.record("reshape", y, [x = TensorDescriptor(x)](Grads& grads, const Tensor& dy) {
        grads.accumulate(x, dy.view(x.shape));
    });
    return y;
}

}  // namespace ringlm
