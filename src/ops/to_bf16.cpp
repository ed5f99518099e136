// Cast to bf16 for the bf16 matmuls (mixed precision):
//   y = bf16(x), rounded to nearest even          x f32, y bf16, same shape
//   dx += dy                                      dy is f32: a bf16 tensor's gradient is (grads.h)
// One cast serves every matmul that reads the same activation (wq, wk and wv read one
// normalised x), so the bf16 copy exists once.
#include "ops/bf16.h"
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor bf16_copy(const Tensor& x) {
    Tensor y = empty(x.shape(), DType::bf16, x.device());
    backend(x).copy(y, x);
    return y;
}

void check_bf16_weight(const char* op, const Tensor& x, const Tensor& w, const Tensor& w_bf16) {
    if (!w_bf16.defined())
        fail("{}: x is {} but the weight {} has no bf16 copy (pass it, or an f32 x)", op, x.describe(), w.describe());
    check_dtype(op, "weight", w, DType::f32);
    check_dtype(op, "bf16 weight", w_bf16, DType::bf16);
    check_same_shape(op, w, w_bf16);
    if (x.device() != w.device() || x.device() != w_bf16.device())
        fail("{}: inputs on different devices (x {}, weight {}, bf16 weight {})", op, device_name(x.device()),
             device_name(w.device()), device_name(w_bf16.device()));
}

Tensor to_bf16(Tape& tape, const Tensor& x) {
    if (!x.defined()) fail("to_bf16: x is undefined");
    check_dtype("to_bf16", "x", x, DType::f32);
    Tensor y = bf16_copy(x);
    tape.record("to_bf16", y, [x](Grads& grads, const Tensor& dy) { backend(x).axpy(grads.of(x), dy, 1.0); });
    return y;
}

}  // namespace ringlm
