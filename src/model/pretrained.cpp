#include "model/pretrained.h"

#include "model/llama2c_checkpoint.h"
#include "model/model_file.h"

#include <set>

namespace ringlm {

void load_parameters(Llama& model, const std::vector<std::pair<std::string, Tensor>>& named, const std::string& source) {
    std::set<std::string> loaded;
    for (const auto& [name, tensor] : named) {
        const NamedParameter& p = model.find(name);
        if (p.value.shape() != tensor.shape())
            fail("{}: parameter '{}' has shape {}, the model expects {}", source, name, tensor.shape(), p.value.shape());
        Tensor destination = p.value;
        backend(destination).copy(destination, tensor);
        loaded.insert(name);
    }
    for (const NamedParameter& p : model.named)
        if (!loaded.count(p.name)) fail("{}: parameter '{}' is missing", source, p.name);
}

Llama load_base_model(const std::string& path, Device device) {
    if (is_hdf5_file(path)) {  // a ringlm checkpoint
        hdf5::File file = hdf5::open_file_readonly(path);
        Llama model = make_llama(read_model_config(file, path), device);
        read_model_weights(file, path, model);
        return model;
    }
    Llama2cCheckpoint checkpoint = load_llama2c_checkpoint(path);
    Llama model = make_llama(checkpoint.config, device);
    load_parameters(model, checkpoint.parameters, path);
    return model;
}

}  // namespace ringlm
