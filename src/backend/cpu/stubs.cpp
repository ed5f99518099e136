// TEMPORARY: kernels not written yet. Each is removed from here when its file lands.
#include "backend/cpu/cpu_backend.h"

namespace ringlm {
#define NOT_YET(name) fail("cpu backend: " name " is not implemented yet")
void CpuBackend::rope_forward(Tensor&, const Tensor&, const Tensor&, double) { NOT_YET("rope"); }
void CpuBackend::rope_backward(Tensor&, const Tensor&, const Tensor&, double) { NOT_YET("rope"); }
void CpuBackend::swiglu_forward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("swiglu"); }
void CpuBackend::swiglu_backward(Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&) { NOT_YET("swiglu"); }
void CpuBackend::embedding_forward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("embedding"); }
void CpuBackend::embedding_backward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("embedding"); }
void CpuBackend::softmax_forward(Tensor&, const Tensor&) { NOT_YET("softmax"); }
void CpuBackend::softmax_backward(Tensor&, const Tensor&, const Tensor&) { NOT_YET("softmax"); }
void CpuBackend::cross_entropy_forward(Tensor&, Tensor&, const Tensor&, const Tensor&) { NOT_YET("cross_entropy"); }
void CpuBackend::cross_entropy_backward(Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) { NOT_YET("cross_entropy"); }
void CpuBackend::attention_block_forward(Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, const AttentionMask&, double) { NOT_YET("attention_block"); }
void CpuBackend::attention_block_backward(Tensor&, Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const AttentionMask&, double) { NOT_YET("attention_block"); }
void CpuBackend::adamw_update(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamWStep&) { NOT_YET("adamw"); }
}  // namespace ringlm
