// PLACEHOLDER: the rope kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::rope_forward(Tensor&, const Tensor&, const Tensor&, double) { NOT_YET("rope"); }
void CpuBackend::rope_backward(Tensor&, const Tensor&, const Tensor&, double) { NOT_YET("rope"); }
}  // namespace ringlm
