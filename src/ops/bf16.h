// Helpers of the bf16 matmuls shared by linear and cross_entropy (their cast op is to_bf16).
#pragma once

#include "tensor/tensor.h"

namespace ringlm {

// x bf16 multiplies w_bf16, the bf16 copy of the f32 weight w that receives the gradient:
// same shape, same device. Fails naming the op otherwise.
void check_bf16_weight(const char* op, const Tensor& x, const Tensor& w, const Tensor& w_bf16);

// A new bf16 tensor holding x rounded to nearest even (not recorded on any tape).
Tensor bf16_copy(const Tensor& x);

}  // namespace ringlm
