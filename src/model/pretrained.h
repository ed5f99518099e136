// Loading a model to train or run: a llama2.c checkpoint or a ringlm checkpoint.
#pragma once

#include "model/llama.h"

#include <string>
#include <utility>
#include <vector>

namespace ringlm {

// Copies named host tensors into the model's parameters; every parameter must be given once,
// with its shape.
void load_parameters(Llama& model, const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source);

// A llama2.c checkpoint, or a ringlm checkpoint (HDF5), as a model on `device`.
Llama load_base_model(const std::string& path, Device device = Device::cpu);

}  // namespace ringlm
