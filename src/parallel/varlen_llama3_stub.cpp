// TEMPORARY, delete when the varlen branch's varlen_llama3.cpp is merged: ring_attention.cpp
// calls the all-gather variant, so without it nothing that uses the op links. Every call fails.
#include "parallel/ring_attention.h"

namespace ringlm {

void varlen_llama3_forward(Transport&, const RingAttentionInputs&, Tensor&, Tensor&) {
    fail("ring_attention: the all-gather variant (varlen_llama3) is not built yet");
}

void varlen_llama3_backward(Transport&, const RingAttentionInputs&, const Tensor&, const Tensor&, const Tensor&,
                            Tensor&, Tensor&, Tensor&) {
    fail("ring_attention: the all-gather variant (varlen_llama3) is not built yet");
}

}  // namespace ringlm
