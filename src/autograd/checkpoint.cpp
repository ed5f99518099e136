#include "autograd/checkpoint.h"

#include "backend/backend.h"

namespace ringlm {

Tensor checkpoint(Tape& tape, const char* name, const Region& region, const Tensor& x, bool offload) {
    Tape forward_only(Tape::Mode::inference);
    Tensor y = region(forward_only, x);
    if (!offload) {
        tape.record(name, y, [region, x](Grads& grads, const Tensor& dy) {
            Tape replay(Tape::Mode::training);
            Tensor y_again = region(replay, x);
            replay.backward(y_again, dy, grads);  // x's gradient accumulates into grads.of(x)
        });
        return y;
    }
    // The closure holds a host copy and x's descriptor only, so nothing here keeps x's
    // device memory alive.
    Tensor x_host = empty(x.shape(), x.dtype(), Device::cpu);
    backend(x).copy(x_host, x);
    tape.record(name, y, [region, x_host, x_name = TensorDescriptor(x)](Grads& grads, const Tensor& dy) {
        Tensor x_again = empty(x_name.shape, x_name.dtype, x_name.device);
        backend(x_again).copy(x_again, x_host);
        Tape replay(Tape::Mode::training);
        Tensor y_again = region(replay, x_again);
        replay.backward(y_again, dy, grads);
        // x_again stood in for x: what flowed into it is x's gradient
        if (const Tensor* dx = grads.find(x_again)) {
            grads.accumulate(x_name, *dx);
            grads.drop(x_again);
        }
    });
    return y;
}

}  // namespace ringlm
