// Input checks shared by the ops. Each throws an Error naming the op and what it got.
#pragma once

#include "ops/id_range.h"
#include "tensor/tensor.h"

#include <initializer_list>
#include <optional>

namespace ringlm {

constexpr int64_t any_size = -1;

// x has this rank and these sizes (any_size matches anything).
void check_shape(const char* op, const char* name, const Tensor& x, std::initializer_list<int64_t> sizes);
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_dtype(const char* op, const char* name, const Tensor& x, DType dtype);
// a floating dtype the backends compute in, the same for every tensor given
void check_floating(const char* op, std::initializer_list<const Tensor*> tensors);
// activations of one computation: f32 and bf16 mixed (bf16 activations, f32 math), or all f64;
// on one device
void check_activations(const char* op, std::initializer_list<const Tensor*> tensors);

// Every value of `ids` (i32, any device) is in [0, limit), or is `ignored`: an id outside would
// make a kernel read (or write) outside its table. `known`, when given, is the range of the
// values other than `ignored` (range_of_ids of the host data the tensor was made of) and is
// checked first; then a host tensor is read, a device tensor only when no range is known
// (copied to the host: a wait). The error names the op, the tensor, the element or the range,
// `what` the limit is and `hint`.
void check_ids_in_range(const char* op, const char* name, const Tensor& ids, int64_t limit, const KnownIdRange& known,
                        std::optional<int32_t> ignored, const char* what, const char* hint);
// The range `known` above means: of the values of host tensor `ids` other than `ignored`.
IdRange range_of_ids(const Tensor& ids, std::optional<int32_t> ignored);

}  // namespace ringlm
