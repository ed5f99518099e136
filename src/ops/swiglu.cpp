// SwiGLU activation of Llama's MLP (Shazeer 2020):
//   out = silu(gate) * up,  silu(a) = a * sigmoid(a)                 gate, up, out [T, F]
//   dgate += dout * up * sigmoid(a) * (1 + a (1 - sigmoid(a))),   dup += dout * silu(a)
// bf16 gate and up give a bf16 out (f32 math); the gradients are f32.
#include "ops/check.h"
#include "ops/ops.h"

namespace ringlm {

Tensor swiglu(Tape& tape, const Tensor& gate, const Tensor& up) {
    check_shape("swiglu", "gate", gate, {any_size, any_size});
    check_shape("swiglu", "up", up, {gate.size(0), gate.size(1)});
    check_activations("swiglu", {&gate, &up});
    check_dtype("swiglu", "up", up, gate.dtype());
    Tensor out = empty_like(gate);
    backend(gate).swiglu_forward(out, gate, up);
    tape.record("swiglu", out, [gate, up](Grads& grads, const Tensor& dout) {
        backend(dout).swiglu_backward(grads.of(gate), grads.of(up), dout, gate, up);
    });
    return out;
}

}  // namespace ringlm
