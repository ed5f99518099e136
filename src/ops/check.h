// Input checks shared by the ops. Each throws an Error naming the op and what it got.
#pragma once

#include "tensor/tensor.h"

#include <initializer_list>

namespace ringlm {

constexpr int64_t any_size = -1;

// x has this rank and these sizes (any_size matches anything).
void check_shape(const char* op, const char* name, const Tensor& x, std::initializer_list<int64_t> sizes);
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_dtype(const char* op, const char* name, const Tensor& x, DType dtype);
// a floating dtype the backends compute in, the same for every tensor given
void check_floating(const char* op, std::initializer_list<const Tensor*> tensors);

}  // namespace ringlm
