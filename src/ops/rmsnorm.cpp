// RMSNorm (Zhang & Sennrich 2019), as in Llama:
//   y = x / sqrt(mean(x^2) + eps) * w                        x [T, C], w [C]
//   dx = (w*dy - x_hat * mean(w*dy * x_hat)) / rms,   dw = sum_t dy * x_hat
// bf16 activations: x may be bf16 and y written in bf16 (`y_dtype`; norm and cast in one
// kernel), computed in f32; w, inv_rms and the gradients are f32.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor rmsnorm(Tape& tape, const Tensor& x, const Tensor& w, double eps, std::optional<DType> y_dtype) {
    check_shape("rmsnorm", "x", x, {any_size, any_size});
    check_shape("rmsnorm", "w", w, {x.cols()});
    Tensor y = empty(x.shape(), y_dtype.value_or(x.dtype()), x.device());
    check_activations("rmsnorm", {&x, &w, &y});
    check_dtype("rmsnorm", "w", w, compute_dtype(x.dtype()));
    Tensor inv_rms = empty({x.rows()}, compute_dtype(x.dtype()), x.device());
    backend(x).rmsnorm_forward(y, inv_rms, x, w, eps);
    tape.record("rmsnorm", y, [x, w, inv_rms](Grads& grads, const Tensor& dy) {
        backend(x).rmsnorm_backward(grads.of(x), grads.of(w), dy, x, w, inv_rms);
    });
    return y;
}

}  // namespace ringlm
