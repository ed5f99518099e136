#include "model/hf_hub.h"

#include "util/error.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

namespace ringlm {

namespace {

namespace fs = std::filesystem;

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

// huggingface_hub's cache locations, most specific first.
std::vector<std::string> cache_folders() {
    std::vector<std::string> folders;
    if (!environment("HF_HUB_CACHE").empty()) folders.push_back(environment("HF_HUB_CACHE"));
    if (!environment("HF_HOME").empty()) folders.push_back(environment("HF_HOME") + "/hub");
    if (!environment("XDG_CACHE_HOME").empty()) folders.push_back(environment("XDG_CACHE_HOME") + "/huggingface/hub");
    if (!environment("HOME").empty()) folders.push_back(environment("HOME") + "/.cache/huggingface/hub");
    return folders;
}

}  // namespace

bool is_hub_model_id(const std::string& path) {
    static const std::regex id("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*");
    if (!std::regex_match(path, id) || fs::exists(path)) return false;
    return !path.ends_with(".bin") && !path.ends_with(".h5");
}

std::string resolve_hub_model(const std::string& id) {
    const std::string repository = "models--" + id.substr(0, id.find('/')) + "--" + id.substr(id.find('/') + 1);
    std::string searched;
    for (const std::string& cache : cache_folders()) {
        const fs::path model = fs::path(cache) / repository;
        searched += (searched.empty() ? "" : ", ") + model.string();
        std::ifstream ref(model / "refs" / "main");
        std::string commit;
        if (!(ref >> commit)) continue;
        const fs::path snapshot = model / "snapshots" / commit;
        if (fs::is_directory(snapshot)) return snapshot.string();
    }
    fail("base_model {}: not in the local Hugging Face cache (searched {}; ringlm downloads nothing): fetch it with "
         "`huggingface-cli download {}`, or give base_model a folder",
         id, searched.empty() ? "nothing: HF_HUB_CACHE, HF_HOME and HOME are unset" : searched, id);
}

std::string resolve_base_model_path(const std::string& path) {
    return is_hub_model_id(path) ? resolve_hub_model(path) : path;
}

}  // namespace ringlm
