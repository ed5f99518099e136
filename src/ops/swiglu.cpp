// SwiGLU activation of Llama's MLP (Shazeer 2020):
//   out = silu(gate) * up,  silu(a) = a * sigmoid(a)                 gate, up, out [T, F]
//   dgate += dout * up * sigmoid(a) * (1 + a (1 - sigmoid(a))),   dup += dout * silu(a)
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor swiglu(Tape& tape, const Tensor& gate, const Tensor& up) {
    check_shape("swiglu", "gate", gate, {any_size, any_size});
    check_shape("swiglu", "up", up, {gate.size(0), gate.size(1)});
    check_floating("swiglu", {&gate, &up});
    Tensor out = empty_like(gate);
    backend(gate).swiglu_forward(out, gate, up);
    tape.record("swiglu", out, [gate, up](Grads& grads, const Tensor& dout) {
        backend(dout).swiglu_backward(grads.of(gate), grads.of(up), dout, gate, up);
    });
    return out;
}

}  // namespace ringlm
