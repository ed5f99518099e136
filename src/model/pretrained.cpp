#include "model/pretrained.h"

#include "model/hf_hub.h"
#include "model/hf_model.h"
#include "model/llama2c_checkpoint.h"
#include "model/model_file.h"

#include <filesystem>

namespace ringlm {

Llama load_base_model(const std::string& given, Device device, ModelUse use) {
    const std::string path = resolve_base_model_path(given);  // org/name: the hub cache's snapshot
    if (std::filesystem::is_directory(path)) return load_hf_model(path, device, use);
    if (is_hdf5_file(path) || path.ends_with(".h5")) {  // a ringlm checkpoint (a damaged one too)
        hdf5::File file = open_model_file(path);
        Llama model = make_llama(read_model_config(file, path), device, use);
        read_model_weights(file, path, model);
        return model;
    }
    Llama2cCheckpoint checkpoint = load_llama2c_checkpoint(path);
    Llama model = make_llama(checkpoint.config, device, use);
    load_parameters(model, checkpoint.parameters, path);
    return model;
}

}  // namespace ringlm
