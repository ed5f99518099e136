// A tensor's shape: up to 4 dimensions held inline, so making a tensor allocates nothing for
// its shape. Row-major, contiguous: the last dimension is the fastest.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <string>

namespace ringlm {

struct Shape {
    static constexpr int max_rank = 4;
    int64_t dims[max_rank] = {0, 0, 0, 0};
    int rank = 0;

    Shape() = default;
    Shape(std::initializer_list<int64_t> sizes);

    int64_t operator[](int i) const { return dims[i < 0 ? rank + i : i]; }
    int64_t& operator[](int i) { return dims[i < 0 ? rank + i : i]; }
    int64_t numel() const;
    bool operator==(const Shape& other) const;
    bool operator!=(const Shape& other) const { return !(*this == other); }
    std::string str() const;  // "[4, 8]"
};

}  // namespace ringlm

template <>
struct fmt::formatter<ringlm::Shape> : fmt::formatter<std::string> {
    auto format(const ringlm::Shape& shape, fmt::format_context& context) const {
        return fmt::formatter<std::string>::format(shape.str(), context);
    }
};
