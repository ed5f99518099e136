// PLACEHOLDER: the cross_entropy kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::cross_entropy_forward(Tensor&, Tensor&, const Tensor&, const Tensor&) { NOT_YET("cross_entropy"); }
void CpuBackend::cross_entropy_backward(Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) { NOT_YET("cross_entropy"); }
}  // namespace ringlm
