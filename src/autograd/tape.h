// Tape: reverse-mode autograd as a list of nodes recorded during forward (flashlight style).
// Each op records one node: its outputs and a closure that holds exactly what its backward
// needs. backward() walks the nodes in reverse; a node whose outputs received no gradient
// is skipped.
//
// A node names its outputs by descriptor (id, shape, dtype, device) and does not hold them:
// an activation is freed as soon as nothing needs its values (no later op saved it for its
// backward and the caller let go of it), not when backward ends.
//
// No-grad mode (inference, generation): a tape made with Tape::Mode::inference records
// nothing, so ops keep no saved tensors alive.
#pragma once

#include "autograd/grads.h"

#include <functional>
#include <vector>

namespace ringlm {

class Tape {
public:
    enum class Mode { training, inference };
    using Backward = std::function<void(Grads& grads, const Tensor& dy)>;
    using BackwardMulti = std::function<void(Grads& grads, const std::vector<Tensor>& dys)>;

    explicit Tape(Mode mode = Mode::training) : mode_(mode) {}
    bool recording() const { return mode_ == Mode::training; }

    void record(const char* op, const Tensor& output, Backward backward);
    // Several outputs: dys[i] is the gradient of outputs[i], or an undefined Tensor if none
    // flowed into it (the node still runs if any output has one).
    void record(const char* op, const std::vector<Tensor>& outputs, BackwardMulti backward);

    // Seeds the gradient of `output` with `doutput` (same shape) and runs every node in
    // reverse. The tape is empty afterwards; bound gradients hold the results.
    void backward(const Tensor& output, const Tensor& doutput, Grads& grads);
    // For a scalar loss [1]: seeds d loss = 1.
    void backward(const Tensor& loss, Grads& grads);

    size_t size() const { return nodes_.size(); }
    void clear() { nodes_.clear(); }

private:
    struct Node {
        const char* op;
        std::vector<TensorDescriptor> outputs;
        BackwardMulti backward;
    };
    Mode mode_;
    std::vector<Node> nodes_;
};

}  // namespace ringlm
