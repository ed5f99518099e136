// Grads: the gradient buffer of each tensor, found by tensor id. Parameters are bound to
// their own persistent grad buffers (views into the model's one contiguous grad buffer), so
// backward accumulates straight into them; every other gradient is made on first use,
// zero-filled, and dropped once the node that consumed it has run.
#pragma once

#include "tensor/tensor.h"

#include <unordered_map>

namespace ringlm {

// The gradient of a bf16 tensor (an activation cast for a bf16 matmul) is kept in f32: its
// contributions accumulate without bf16 rounding, and the cast's backward passes it on as is.
inline DType gradient_dtype(DType dtype) { return dtype == DType::bf16 ? DType::f32 : dtype; }

class Grads {
public:
    // Gradients of `value` accumulate into `grad` (same shape) and outlive backward.
    void bind(const Tensor& value, const Tensor& grad);
    // The gradient buffer of x (gradient_dtype), zero-filled on first use. Backward kernels
    // accumulate into it.
    Tensor& of(const Tensor& x);
    // grad(x) += contribution. When x has no gradient yet, x's gradient becomes the
    // contribution itself (no copy): the caller must not write to it afterwards.
    void accumulate(const Tensor& x, const Tensor& contribution);
    // The gradient of x if anything has flowed into it, else null.
    const Tensor* find(const Tensor& x) const;
    // Forget x's gradient unless it is bound (called once x's producer has used it).
    void drop(const Tensor& x);
    void clear_unbound();

private:
    struct Entry {
        Tensor grad;
        bool bound = false;
    };
    std::unordered_map<uint64_t, Entry> entries_;
};

}  // namespace ringlm
