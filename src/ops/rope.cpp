// Rotary position embedding (Su et al. 2021), Hugging Face "rotate halves" layout:
//   angle(t, i) = position_ids[t] * theta^(-2i/D),  i < D/2        x, y [T, H, D], position_ids i32 [T]
//   y[i]     = x[i] cos - x[i+D/2] sin
//   y[i+D/2] = x[i+D/2] cos + x[i] sin
//   dx += R(-angle) dy            (the rotation is orthogonal: its transpose is its inverse)
// Backward does not read x (only its gradient's shape), so x itself is not saved.
// Position ids are global token positions (see DESIGN.md, data path), so a chunk of a ring
// rotates exactly as it would in the whole sequence.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor rope(Tape& tape, const Tensor& x, const Tensor& position_ids, double theta) {
    check_shape("rope", "x", x, {any_size, any_size, any_size});
    check_shape("rope", "position_ids", position_ids, {x.size(0)});
    check_dtype("rope", "position_ids", position_ids, DType::i32);
    check_floating("rope", {&x});
    if (x.size(2) % 2 != 0) fail("rope: head dimension {} of x {} must be even", x.size(2), x.describe());
    if (!(theta > 0)) fail("rope: theta {} must be positive", theta);
    Tensor y = empty_like(x);
    backend(x).rope_forward(y, x, position_ids, theta);
    tape.record("rope", y, [x = TensorDescriptor(x), position_ids, theta](Grads& grads, const Tensor& dy) {
        backend(dy).rope_backward(grads.of(x), dy, position_ids, theta);
    });
    return y;
}

}  // namespace ringlm
