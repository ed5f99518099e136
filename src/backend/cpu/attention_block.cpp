// PLACEHOLDER: the attention_block kernels are not written yet.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::attention_block_forward(Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, const AttentionMask&, double) { NOT_YET("attention_block"); }
void CpuBackend::attention_block_backward(Tensor&, Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AttentionMask&, double) { NOT_YET("attention_block"); }
}  // namespace ringlm
