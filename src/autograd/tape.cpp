#include "autograd/tape.h"

#include "backend/backend.h"

namespace ringlm {

void Tape::record(const char* op, const Tensor& output, Backward backward) {
    if (!recording()) return;
    nodes_.push_back(Node{op, {output}, [backward = std::move(backward)](Grads& grads, const std::vector<Tensor>& dys) {
                              backward(grads, dys[0]);
                          }});
}

void Tape::record(const char* op, const std::vector<Tensor>& outputs, BackwardMulti backward) {
    if (!recording()) return;
    nodes_.push_back(Node{op, std::vector<TensorDescriptor>(outputs.begin(), outputs.end()), std::move(backward)});
}

void Tape::backward(const Tensor& output, const Tensor& doutput, Grads& grads) {
    if (output.shape() != doutput.shape())
        fail("backward: gradient {} does not match output {}", doutput.describe(), output.describe());
    backend(doutput).axpy(grads.of(output), doutput, 1.0);
    for (auto node = nodes_.rbegin(); node != nodes_.rend(); ++node) {
        std::vector<Tensor> dys(node->outputs.size());
        bool any = false;
        for (size_t i = 0; i < dys.size(); i++) {
            if (const Tensor* dy = grads.find(node->outputs[i])) {
                dys[i] = *dy;
                any = true;
            }
        }
        if (!any) continue;
        node->backward(grads, dys);
        for (const TensorDescriptor& out : node->outputs) grads.drop(out);
        node->backward = nullptr;  // free what the node saved as soon as it has run
    }
    nodes_.clear();
}

void Tape::backward(const Tensor& loss, Grads& grads) {
    if (loss.numel() != 1) fail("backward: loss must have one element, got {}", loss.describe());
    Tensor one = empty(loss.shape(), loss.dtype(), loss.device());
    backend(loss).fill(one, 1.0);
    backward(loss, one, grads);
}

}  // namespace ringlm
