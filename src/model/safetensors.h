// safetensors, Hugging Face's weight file (https://huggingface.co/docs/safetensors), both ways:
//   u64 little-endian N | N bytes of JSON header | the tensors' bytes back to back
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)}, offsets
// from the end of the header, and "__metadata__" to string pairs. The tensors tile the data:
// no gap, no overlap, nothing after the last one (the safetensors library refuses anything
// else, and so does this reader). The one place ringlm reads or writes the format.
#pragma once

#include "tensor/tensor.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ringlm {

// Writes host f32 tensors, in the given order, as `dtype` (f32 exact, or bf16 rounded to
// nearest even) to `path` through a temporary file and a rename. The header carries
// __metadata__ {"format": "pt"} (transformers refuses a file without it) and is padded with
// spaces so the data starts 8-byte aligned. Returns the bytes written.
int64_t write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                          DType dtype);

struct SafetensorsTensor {
    std::string name;
    std::string dtype;    // as the file spells it: "F32", "BF16", "F16", "I64", ...
    Shape shape;
    int64_t begin = 0;    // [begin, end) in the data section
    int64_t end = 0;
};

struct SafetensorsLayout {
    int64_t data_start = 0;  // 8 + N: where the data section starts in the file
    std::vector<SafetensorsTensor> tensors;  // in the order of their data
};

// The header of the safetensors file held in `file` (all `file_size` bytes of it), checked as
// SafetensorsFile describes; `path` names it in messages.
SafetensorsLayout parse_safetensors_header(const std::byte* file, size_t file_size, const std::string& path);

// A safetensors file mapped read-only (the page cache holds it, not the heap). The constructor
// checks the whole header before anything reads a value, and fails naming the file: a file
// shorter than its header or its data (truncated), a header that is not JSON or not within
// 100 MB, an entry without dtype/shape/data_offsets, a shape of rank > 4, offsets that leave a
// gap, overlap or run past the end, a byte count that is not shape x dtype size.
class SafetensorsFile {
public:
    explicit SafetensorsFile(std::string path);
    ~SafetensorsFile();
    SafetensorsFile(SafetensorsFile&& other) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(SafetensorsFile&&) = delete;

    const std::string& path() const { return path_; }
    // In the order of their data.
    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
    // Widens F32, BF16 or F16 values to f32 (exact) into `out` (shape.numel() floats); any
    // other dtype fails naming the tensor.
    void read_f32(const SafetensorsTensor& tensor, float* out) const;

private:
    std::string path_;
    const std::byte* mapped_ = nullptr;
    size_t mapped_bytes_ = 0;
    int64_t data_start_ = 0;  // 8 + N
    std::vector<SafetensorsTensor> tensors_;
};

}  // namespace ringlm
