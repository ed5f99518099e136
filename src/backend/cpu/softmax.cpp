// PLACEHOLDER: the softmax kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::softmax_forward(Tensor&, const Tensor&) { NOT_YET("softmax"); }
void CpuBackend::softmax_backward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("softmax"); }
}  // namespace ringlm
