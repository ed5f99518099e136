// TEMPORARY, delete when the ring branch's ring_pass.cpp is merged: ring_attention.cpp calls
// the ring-pass variants, so without them nothing that uses the op links. Every call fails.
#include "parallel/ring_attention.h"

namespace ringlm {

void ring_pass_forward(Transport&, const RingAttentionInputs&, Tensor&, Tensor&) {
    fail("ring_attention: the ring-pass variants (batch_ring, batch_zigzag, batch_stripe) are not built yet");
}

void ring_pass_backward(Transport&, const RingAttentionInputs&, const Tensor&, const Tensor&, const Tensor&, Tensor&,
                        Tensor&, Tensor&) {
    fail("ring_attention: the ring-pass variants (batch_ring, batch_zigzag, batch_stripe) are not built yet");
}

}  // namespace ringlm
