// safetensors reading and writing. See safetensors.h.
#include "model/safetensors.h"

#include "util/atomic_file.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ringlm {

namespace {

// The safetensors library's own bound on the header.
constexpr int64_t max_header_bytes = 100'000'000;

// Bytes per element of every dtype the format defines; 0 for a name it does not.
int64_t element_bytes(const std::string& dtype) {
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "BF16" || dtype == "F16" || dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "BOOL" || dtype == "U8" || dtype == "I8" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
    return 0;
}

// IEEE half -> float, exact: sign, 5-bit exponent (bias 15), 10-bit mantissa.
float from_float16_bits(uint16_t bits) {
    const uint32_t sign = uint32_t(bits >> 15) << 31, exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    // inf/NaN keep an all-ones exponent; normal numbers rebias 15 -> 127
    const uint32_t f32_exponent = exponent == 0x1f ? 0xff : exponent + (127 - 15);
    const uint32_t u = sign | (f32_exponent << 23) | (mantissa << 13);
    float value;
    std::memcpy(&value, &u, 4);
    return value;
}

// A non-negative JSON integer that fits int64 (2^64 - 2 would read as -2), or fails naming
// the tensor and field.
int64_t header_integer(const nlohmann::json& value, const std::string& path, const std::string& name,
                       const char* field) {
    if (!value.is_number_unsigned() || value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        fail("{}: tensor '{}': {} holds {}, not a non-negative integer (not a valid safetensors header)", path, name,
             field, value.dump());
    return static_cast<int64_t>(value.get<uint64_t>());
}

}  // namespace

int64_t write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                          DType dtype) {
    if (dtype != DType::f32 && dtype != DType::bf16) fail("{}: safetensors dtype {} (f32 or bf16)", path, dtype_name(dtype));
    nlohmann::ordered_json header{{"__metadata__", {{"format", "pt"}}}};
    int64_t offset = 0;
    for (const auto& [name, value] : tensors) {
        const int64_t bytes = value.numel() * int64_t(dtype_size(dtype));
        const Shape& shape = value.shape();
        header[name] = {{"dtype", dtype == DType::bf16 ? "BF16" : "F32"},
                        {"shape", std::vector<int64_t>(shape.dims, shape.dims + shape.rank)},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');
    const uint64_t header_bytes = header_text.size();  // x86-64 and aarch64 are little-endian

    AtomicFile file(path);
    file.write(&header_bytes, sizeof(header_bytes));
    file.write(header_text.data(), header_text.size());
    std::vector<bfloat16> rounded;
    for (const auto& [name, value] : tensors) {
        const float* values = value.data<float>();
        if (dtype == DType::f32) {
            file.write(values, value.bytes());
            continue;
        }
        rounded.resize(value.numel());
        for (int64_t i = 0; i < value.numel(); i++) rounded[i] = to_bfloat16(values[i]);
        file.write(rounded.data(), rounded.size() * sizeof(bfloat16));
    }
    file.commit();
    return file.bytes_written();
}

SafetensorsLayout parse_safetensors_header(const std::byte* file, size_t file_size, const std::string& path) {
    const int64_t file_bytes = int64_t(file_size);
    if (file_bytes < 8) fail("{}: {} bytes, too short for a safetensors file (truncated?)", path, file_bytes);
    SafetensorsLayout layout;
    uint64_t header_bytes = 0;
    std::memcpy(&header_bytes, file, 8);
    if (header_bytes > uint64_t(max_header_bytes))
        fail("{}: header length {} exceeds safetensors' 100 MB bound (not a safetensors file?)", path,
             header_bytes);
    if (8 + int64_t(header_bytes) > file_bytes)
        fail("{}: the header claims {} bytes, the file has {} after the length (truncated?)", path, header_bytes,
             file_bytes - 8);
    layout.data_start = 8 + int64_t(header_bytes);
    const char* header_text = reinterpret_cast<const char*>(file + 8);
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(header_text, header_text + header_bytes);
    } catch (const nlohmann::json::exception& error) {  // parse_error, or out_of_range for 1e999
        fail("{}: the header is not JSON ({}) (not a safetensors file?)", path, error.what());
    }
    if (!header.is_object()) fail("{}: the header is not a JSON object (not a safetensors file?)", path);

    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") continue;
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets") || !entry["dtype"].is_string() || !entry["shape"].is_array() ||
            !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
            fail("{}: tensor '{}': {} is not {{\"dtype\", \"shape\", \"data_offsets\": [begin, end]}}", path,
                 name, entry.dump());
        SafetensorsTensor tensor;
        tensor.name = name;
        tensor.dtype = entry["dtype"].get<std::string>();
        if (element_bytes(tensor.dtype) == 0) fail("{}: tensor '{}': unknown dtype '{}'", path, name, tensor.dtype);
        if (entry["shape"].size() > size_t(Shape::max_rank))
            fail("{}: tensor '{}': rank {} (ringlm's tensors have rank <= {})", path, name, entry["shape"].size(),
                 Shape::max_rank);
        for (const nlohmann::json& size : entry["shape"])
            tensor.shape.dims[tensor.shape.rank++] = header_integer(size, path, name, "shape");
        tensor.begin = header_integer(entry["data_offsets"][0], path, name, "data_offsets");
        tensor.end = header_integer(entry["data_offsets"][1], path, name, "data_offsets");
        int64_t bytes = element_bytes(tensor.dtype);
        for (int i = 0; i < tensor.shape.rank; i++)
            if (__builtin_mul_overflow(bytes, tensor.shape.dims[i], &bytes))
                fail("{}: tensor '{}': shape {} overflows 64 bits", path, name, tensor.shape);
        if (tensor.end < tensor.begin || tensor.end - tensor.begin != bytes)
            fail("{}: tensor '{}': data_offsets [{}, {}) hold {} bytes, its shape {} of {} needs {}", path, name,
                 tensor.begin, tensor.end, tensor.end - tensor.begin, tensor.shape, tensor.dtype, bytes);
        layout.tensors.push_back(std::move(tensor));
    }
    // Tiled: sorted by begin, each starts where the previous ended, the last ends at the file's end.
    std::sort(layout.tensors.begin(), layout.tensors.end(),
              [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.begin < b.begin; });
    int64_t covered = 0;
    for (const SafetensorsTensor& tensor : layout.tensors) {
        if (tensor.begin != covered)
            fail("{}: tensor '{}' starts at data byte {}, the tensors before it end at {} ({} in the header)",
                 path, tensor.name, tensor.begin, covered, tensor.begin < covered ? "overlap" : "a gap");
        covered = tensor.end;
    }
    const int64_t data_bytes = file_bytes - layout.data_start;
    if (covered > data_bytes)
        fail("{}: the tensors need {} bytes of data, the file holds {} (truncated?)", path, covered, data_bytes);
    if (covered < data_bytes)
        fail("{}: {} bytes after the last tensor (not a safetensors file as its header describes)", path,
             data_bytes - covered);
    return layout;
}

SafetensorsFile::SafetensorsFile(std::string path) : path_(std::move(path)) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("{}: cannot open: {}", path_, std::strerror(errno));
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
        const int error = errno;
        ::close(fd);
        fail("{}: cannot stat: {}", path_, std::strerror(error));
    }
    const int64_t file_bytes = status.st_size;
    if (file_bytes < 8) {
        ::close(fd);
        fail("{}: {} bytes, too short for a safetensors file (truncated?)", path_, file_bytes);
    }
    void* mapped = ::mmap(nullptr, size_t(file_bytes), PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_error = errno;
    ::close(fd);  // the mapping keeps the file
    if (mapped == MAP_FAILED) fail("{}: cannot map {} bytes: {}", path_, file_bytes, std::strerror(map_error));
    mapped_ = static_cast<const std::byte*>(mapped);
    mapped_bytes_ = size_t(file_bytes);
    // From here a failure must unmap: the destructor does not run for a throwing constructor.
    try {
        SafetensorsLayout layout = parse_safetensors_header(mapped_, mapped_bytes_, path_);
        data_start_ = layout.data_start;
        tensors_ = std::move(layout.tensors);
    } catch (...) {
        ::munmap(const_cast<std::byte*>(mapped_), mapped_bytes_);
        throw;
    }
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      mapped_(std::exchange(other.mapped_, nullptr)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)),
      data_start_(other.data_start_),
      tensors_(std::move(other.tensors_)) {}

SafetensorsFile::~SafetensorsFile() {
    if (mapped_) ::munmap(const_cast<std::byte*>(mapped_), mapped_bytes_);
}

void SafetensorsFile::read_f32(const SafetensorsTensor& tensor, float* out) const {
    const std::byte* data = mapped_ + data_start_ + tensor.begin;
    const int64_t n = tensor.shape.numel();
    // memcpy per element: the data need not be aligned (the format does not require padding).
    if (tensor.dtype == "F32") {
        std::memcpy(out, data, size_t(n) * 4);
    } else if (tensor.dtype == "BF16") {
        for (int64_t i = 0; i < n; i++) {
            bfloat16 value;
            std::memcpy(&value.bits, data + 2 * i, 2);
            out[i] = from_bfloat16(value);
        }
    } else if (tensor.dtype == "F16") {
        for (int64_t i = 0; i < n; i++) {
            uint16_t bits;
            std::memcpy(&bits, data + 2 * i, 2);
            out[i] = from_float16_bits(bits);
        }
    } else {
        fail("{}: tensor '{}' is {}; ringlm reads F32, BF16 and F16 weights", path_, tensor.name, tensor.dtype);
    }
}

}  // namespace ringlm
