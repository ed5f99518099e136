// Grads: the gradient buffer of each tensor, found by tensor id. Parameters are bound to
// their own persistent grad buffers (views into the model's one contiguous grad buffer), so
// backward accumulates straight into them; every other gradient is made on first use,
// zero-filled, and dropped once the node that consumed it has run.
//
// A gradient is found and made from a TensorDescriptor (id, shape, dtype, device), not from
// the tensor itself, so neither the tape nor a backward closure has to keep a tensor alive
// just to name its gradient: a tensor lives only while something needs its values.
#pragma once

#include "tensor/tensor.h"

#include <unordered_map>

namespace ringlm {

// The gradient of a bf16 tensor (an activation cast for a bf16 matmul) is kept in f32: its
// contributions accumulate without bf16 rounding, and the cast's backward passes it on as is.
inline DType gradient_dtype(DType dtype) { return compute_dtype(dtype); }

// What autograd needs to know of a tensor to find or make its gradient, without holding its
// storage. Made implicitly from a Tensor, so grads.of(x) reads the same for both; a backward
// closure that needs only x's gradient captures `x = TensorDescriptor(x)`. An undefined
// tensor gives id 0, which no tensor has.
struct TensorDescriptor {
    uint64_t id = 0;
    Shape shape;
    DType dtype = DType::f32;
    Device device = Device::cpu;

    TensorDescriptor() = default;
    TensorDescriptor(const Tensor& x)  // NOLINT(google-explicit-constructor): implicit on purpose
        : id(x.id()), shape(x.shape()), dtype(x.dtype()), device(x.defined() ? x.device() : Device::cpu) {}
    std::string describe() const;  // "f32 [4, 8]", as Tensor::describe
};

class Grads {
public:
    // Gradients of `value` accumulate into `grad` (same shape) and outlive backward.
    void bind(const Tensor& value, const Tensor& grad);
    // The gradient buffer of x (gradient_dtype), zero-filled on first use. Backward kernels
    // accumulate into it.
    Tensor& of(const TensorDescriptor& x);
    // grad(x) += contribution. When x has no gradient yet, x's gradient becomes the
    // contribution itself (no copy): the caller must not write to it afterwards.
    void accumulate(const TensorDescriptor& x, const Tensor& contribution);
    // The gradient of x if anything has flowed into it, else null.
    const Tensor* find(const TensorDescriptor& x) const;
    // Forget x's gradient unless it is bound (called once x's producer has used it).
    void drop(const TensorDescriptor& x);
    void clear_unbound();

private:
    struct Entry {
        Tensor grad;
        bool bound = false;
    };
    std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace ringlm
