// CPU SwiGLU kernels (Shazeer 2020), elementwise over gate, up [T, F]:
//   out = silu(gate) * up,  silu(a) = a * sigmoid(a)
//   dgate += dout * up * sigmoid(a) * (1 + a (1 - sigmoid(a))),   dup += dout * silu(a)
#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vector_exp.h"

#include <cmath>

namespace ringlm {

void CpuBackend::swiglu_forward(Tensor& out, const Tensor& gate, const Tensor& up) {
    if (any_bf16({&out, &gate, &up})) {
        Tensor out_f32 = f32_output(out);
        swiglu_forward(out_f32, widened(gate), widened(up));
        return narrow_into(out, out_f32);
    }
    dispatch_floating("swiglu_forward", gate.dtype(), [&]<typename T>(T) {
        const int64_t n = gate.numel();
        const T* gate_p = gate.data<T>();
        const T* up_p = up.data<T>();
        T* out_p = out.data<T>();
#pragma omp parallel for schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            const T a = gate_p[i];
            // exp(-a) overflows to inf for a << 0, giving sigmoid 0: the right limit
            // (vector_exp: vectorisable f32 exp, vector_exp.h)
            const T sigmoid = T(1) / (T(1) + vector_exp(-a));
            out_p[i] = a * sigmoid * up_p[i];
        }
    });
}

void CpuBackend::swiglu_backward(Tensor& dgate, Tensor& dup, const Tensor& dout, const Tensor& gate,
                                 const Tensor& up) {
    // bf16 gate and up (saved activations); the gradients are f32
    if (any_bf16({&gate, &up})) return swiglu_backward(dgate, dup, dout, widened(gate), widened(up));
    dispatch_floating("swiglu_backward", gate.dtype(), [&]<typename T>(T) {
        const int64_t n = gate.numel();
        const T* gate_p = gate.data<T>();
        const T* up_p = up.data<T>();
        const T* dout_p = dout.data<T>();
        T* dgate_p = dgate.data<T>();
        T* dup_p = dup.data<T>();
#pragma omp parallel for schedule(static) if (n > 16384)
        for (int64_t i = 0; i < n; i++) {
            const T a = gate_p[i];
            const T sigmoid = T(1) / (T(1) + vector_exp(-a));
            dgate_p[i] += dout_p[i] * up_p[i] * sigmoid * (T(1) + a * (T(1) - sigmoid));
            dup_p[i] += dout_p[i] * a * sigmoid;
        }
    });
}

}  // namespace ringlm
