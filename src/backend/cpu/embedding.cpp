// PLACEHOLDER: the embedding kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::embedding_forward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("embedding"); }
void CpuBackend::embedding_backward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("embedding"); }
}  // namespace ringlm
