// Linear layer, PyTorch's nn.Linear weight layout, with an optional bias b [out]:
//   y = x @ w^T (+ b)                   x [T, in], w [out, in], y [T, out]
//   dx += dy @ w,   dw += dy^T @ x,   db += sum_t dy[t, :]
// In bf16 (x bf16, from to_bf16): the product reads w's bf16 copy and accumulates in f32,
//   y[f32] = x @ w_bf16^T,   dx[f32] += bf16(dy) @ w_bf16,   dw[f32] += bf16(dy)^T @ x
// dw lands in w's f32 (master) gradient; dx in x's gradient, which is f32 (grads.h).
// With bf16 activations y is written in bf16 (`y_dtype`), rounded once from the f32
// accumulation (the bias added before the rounding); its gradient dy is f32 as any bf16 tensor's.
#include "ops/bf16.h"
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor linear(Tape& tape, const Tensor& x, const Tensor& w, const Tensor& w_bf16, const Tensor& bias,
              std::optional<DType> y_dtype) {
    check_shape("linear", "w", w, {any_size, any_size});
    check_shape("linear", "x", x, {any_size, w.size(1)});
    if (bias.defined()) {
        check_shape("linear", "bias", bias, {w.size(0)});
        check_floating("linear", {&w, &bias});
    }
    const bool in_bf16 = x.dtype() == DType::bf16;
    if (in_bf16) {
        check_bf16_weight("linear", x, w, w_bf16);
    } else {
        check_floating("linear", {&x, &w});
    }
    const Tensor w_compute = in_bf16 ? w_bf16 : w;
    const DType y_type = y_dtype.value_or(compute_dtype(x.dtype()));
    if (y_type != compute_dtype(x.dtype()) && !(in_bf16 && y_type == DType::bf16))
        fail("linear: x {} cannot give a {} y (bf16 y needs a bf16 x)", x.describe(), dtype_name(y_type));
    Tensor y = empty({x.size(0), w.size(0)}, y_type, x.device());
    // a bf16 y with a bias: the bias joins the f32 product before the one rounding
    const bool round_after_bias = bias.defined() && y_type == DType::bf16;
    Tensor product = round_after_bias ? empty(y.shape(), DType::f32, y.device()) : y;
    backend(x).gemm(product, x, w_compute, false, true, 1.0, 0.0);
    if (bias.defined()) backend(x).add_bias(product, bias);
    if (round_after_bias) backend(x).copy(y, product);
    // Backward reads x and w_compute; of w (f32, a separate tensor in bf16) and b only their gradients.
    auto backward = [x, w = TensorDescriptor(w), w_compute, b = TensorDescriptor(bias)](Grads& grads,
                                                                                      const Tensor& dy) {
        Backend& compute = backend(x);
        const Tensor dy_compute = x.dtype() == DType::bf16 ? bf16_copy(dy) : dy;
        // beta = 1: gemm accumulates into the gradient buffers
        compute.gemm(grads.of(x), dy_compute, w_compute, false, false, 1.0, 1.0);
        compute.gemm(grads.of(w), dy_compute, x, true, false, 1.0, 1.0);
        if (b.id != 0) compute.sum_rows(grads.of(b), dy);  // id 0: no bias
    };
    tape.record("linear", y, backward);
    return y;
}

}  // namespace ringlm
