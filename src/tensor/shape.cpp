#include "tensor/shape.h"

#include "util/error.h"

namespace ringlm {

Shape::Shape(std::initializer_list<int64_t> sizes) {
    if (sizes.size() > static_cast<size_t>(max_rank)) fail("shape: rank {} exceeds the maximum of {}", sizes.size(), max_rank);
    for (int64_t size : sizes) {
        if (size < 0) fail("shape: negative dimension {}", size);
        dims[rank++] = size;
    }
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

bool Shape::operator==(const Shape& other) const {
    if (rank != other.rank) return false;
    for (int i = 0; i < rank; i++)
        if (dims[i] != other.dims[i]) return false;
    return true;
}

std::string Shape::str() const {
    std::string text = "[";
    for (int i = 0; i < rank; i++) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + "]";
}

}  // namespace ringlm
