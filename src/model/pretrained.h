// Loading a model to train or run: a llama2.c checkpoint or a ringlm checkpoint.
#pragma once

#include "model/llama.h"

#include <string>
#include <utility>
#include <vector>

namespace ringlm {

// A llama2.c checkpoint, or a ringlm checkpoint (HDF5), as a model on `device`.
Llama load_base_model(const std::string& path, Device device = Device::cpu);

}  // namespace ringlm
