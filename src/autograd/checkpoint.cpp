#include "autograd/checkpoint.h"

#include "backend/backend.h"

namespace ringlm {

Tensor checkpoint(Tape& tape, const char* name, const Region& region, const Tensor& x, bool offload) {
    Tape forward_only(Tape::Mode::inference);
    Tensor y = region(forward_only, x);
    // What the closure keeps of x: x itself, or (offloaded) a host copy, so that nothing here
    // keeps x's device memory alive.
    const Tensor saved = offload ? backend(x).offload(x) : x;
    tape.record(name, y, [region, saved, offload, x_name = TensorDescriptor(x)](Grads& grads, const Tensor& dy) {
        const Tensor input = offload ? backend_for(x_name.device).restore(saved) : saved;
        Tape replay(Tape::Mode::training);
        Tensor y_again = region(replay, input);
        replay.backward(y_again, dy, grads);  // in place, x's gradient accumulates into grads.of(x)
        // offloaded, the copy stood in for x: what flowed into it is x's gradient
        const Tensor* dx = offload ? grads.find(input) : nullptr;
        if (dx) {
            grads.accumulate(x_name, *dx);
            grads.drop(input);
        }
    });
    return y;
}

}  // namespace ringlm
