// The label that carries no loss: Hugging Face's -100, in a dataset's labels, a batch's targets,
// the loss op and its kernels on both backends (Backend::cross_entropy's contract). Header-only
// and constexpr, so CUDA device code reads the same constant.
#pragma once

#include <cstdint>

namespace ringlm {

constexpr int32_t ignore_label = -100;

}  // namespace ringlm
