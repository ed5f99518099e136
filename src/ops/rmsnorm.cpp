// RMSNorm (Zhang & Sennrich 2019), as in Llama:
//   y = x / sqrt(mean(x^2) + eps) * w                        x [T, C], w [C]
//   dx = (w*dy - x_hat * mean(w*dy * x_hat)) / rms,   dw = sum_t dy * x_hat
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor rmsnorm(Tape& tape, const Tensor& x, const Tensor& w, double eps) {
    check_shape("rmsnorm", "x", x, {any_size, any_size});
    check_shape("rmsnorm", "w", w, {x.cols()});
    check_floating("rmsnorm", {&x, &w});
    Tensor y = empty_like(x);
    Tensor inv_rms = empty({x.rows()}, x.dtype(), x.device());
    backend(x).rmsnorm_forward(y, inv_rms, x, w, eps);
    tape.record("rmsnorm", y, [x, w, inv_rms](Grads& grads, const Tensor& dy) {
        backend(x).rmsnorm_backward(grads.of(x), grads.of(w), dy, x, w, inv_rms);
    });
    return y;
}

}  // namespace ringlm
