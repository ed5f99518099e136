#include "reference_io.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ringlm::testing {

namespace {
const char* dtype_code(DType dtype) {
    switch (dtype) {
        case DType::f32: return "f32";
        case DType::f64: return "f64";
        case DType::i32: return "i32";
        default: fail("reference io: cannot exchange {}", dtype_name(dtype));
    }
}
}  // namespace

void write_reference_folder(const std::string& folder, const std::string& meta_json,
                            const std::map<std::string, Tensor>& tensors) {
    std::filesystem::create_directories(folder);
    nlohmann::json manifest;
    manifest["meta"] = nlohmann::json::parse(meta_json);
    manifest["tensors"] = nlohmann::json::object();
    int i = 0;
    for (const auto& [name, tensor] : tensors) {
        const std::string file = fmt::format("t{}.bin", i++);
        std::ofstream out(folder + "/" + file, std::ios::binary);
        out.write(static_cast<const char*>(tensor.raw()), static_cast<std::streamsize>(tensor.bytes()));
        std::vector<int64_t> shape;
        for (int d = 0; d < tensor.dim(); d++) shape.push_back(tensor.size(d));
        manifest["tensors"][name] = {{"file", file}, {"shape", shape}, {"dtype", dtype_code(tensor.dtype())}};
    }
    std::ofstream(folder + "/manifest.json") << manifest.dump();
}

std::map<std::string, Tensor> read_reference_folder(const std::string& folder) {
    std::ifstream in(folder + "/manifest.json");
    if (!in) fail("reference io: no manifest in {}", folder);
    nlohmann::json manifest = nlohmann::json::parse(in);
    std::map<std::string, Tensor> tensors;
    for (const auto& [name, entry] : manifest["tensors"].items()) {
        Shape shape;
        for (int64_t size : entry["shape"]) shape.dims[shape.rank++] = size;
        const std::string code = entry["dtype"];
        const DType dtype = code == "f32" ? DType::f32 : code == "f64" ? DType::f64 : DType::i32;
        Tensor t = empty(shape, dtype);
        std::ifstream data(folder + "/" + std::string(entry["file"]), std::ios::binary);
        data.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.bytes()));
        if (!data) fail("reference io: {} is shorter than {}", folder + "/" + std::string(entry["file"]), t.describe());
        tensors.emplace(name, t);
    }
    return tensors;
}

std::string source_dir() {
    if (const char* dir = std::getenv("RINGLM_SOURCE_DIR")) return dir;
    return ".";
}

std::string make_temp_folder(const std::string& prefix) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (!mkdtemp(pattern.data())) fail("cannot make a temporary folder {}", pattern);
    return pattern;
}

void run_python_reference(const std::string& script, const std::string& args) {
    const std::string command =
        "cd " + source_dir() + "/tests/reference && /usr/bin/python3 " + script + " " + args + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) fail("cannot run {}", command);
    std::string output;
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    const int status = pclose(pipe);
    if (status != 0) fail("{} failed ({}):\n{}", command, status, output);
}

}  // namespace ringlm::testing
