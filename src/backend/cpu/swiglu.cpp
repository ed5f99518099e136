// PLACEHOLDER: the swiglu kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::swiglu_forward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("swiglu"); }
void CpuBackend::swiglu_backward(Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&) { NOT_YET("swiglu"); }
}  // namespace ringlm
