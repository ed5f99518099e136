// Loading a model to train or run: a llama2.c checkpoint, a ringlm checkpoint or a Hugging Face
// folder.
#pragma once

#include "model/llama.h"

#include <string>
#include <utility>
#include <vector>

namespace ringlm {

// A llama2.c checkpoint, a ringlm checkpoint (HDF5), a folder as Hugging Face's
// save_pretrained writes one (model/hf_model.h), or a hub id org/name found in the local
// Hugging Face cache (model/hf_hub.h), as a model on `device`, with a
// gradient buffer only when `use` is training (make_llama).
Llama load_base_model(const std::string& path, Device device = Device::cpu, ModelUse use = ModelUse::training);

}  // namespace ringlm
