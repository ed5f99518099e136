// PLACEHOLDER: the adamw kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::adamw_update(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamWStep&) { NOT_YET("adamw"); }
}  // namespace ringlm
