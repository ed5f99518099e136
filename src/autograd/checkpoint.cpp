#include "autograd/checkpoint.h"

namespace ringlm {

Tensor checkpoint(Tape& tape, const char* name, const Region& region, const Tensor& x) {
    Tape forward_only(Tape::Mode::inference);
    Tensor y = region(forward_only, x);
    tape.record(name, y, [region, x](Grads& grads, const Tensor& dy) {
        Tape replay(Tape::Mode::training);
        Tensor y_again = region(replay, x);
        replay.backward(y_again, dy, grads);  // x's gradient accumulates into grads.of(x)
    });
    return y;
}

}  // namespace ringlm
