// Element types. f32 is the training type on CPU; f64 exists for gradient checks; bf16/f16
// are storage types for the CUDA backend's matmul operands; i32/i64 hold token ids,
// positions and segment ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ringlm {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64 };

constexpr size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::f32: return 4;
        case DType::f64: return 8;
        case DType::bf16: return 2;
        case DType::f16: return 2;
        case DType::i32: return 4;
        case DType::i64: return 8;
    }
    return 0;
}

constexpr const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "f32";
        case DType::f64: return "f64";
        case DType::bf16: return "bf16";
        case DType::f16: return "f16";
        case DType::i32: return "i32";
        case DType::i64: return "i64";
    }
    return "?";
}

constexpr bool is_floating(DType dtype) { return dtype != DType::i32 && dtype != DType::i64; }
// The dtype a kernel does a tensor's math in: bf16 values are widened to f32 (bf16 activations
// are stored in bf16, computed in f32); f32 and f64 compute in themselves.
constexpr DType compute_dtype(DType dtype) { return dtype == DType::bf16 ? DType::f32 : dtype; }

// bfloat16: the top 16 bits of an IEEE float32. Conversion rounds to nearest even.
struct bfloat16 {
    uint16_t bits;
};

inline bfloat16 to_bfloat16(float value) {
    uint32_t u;
    std::memcpy(&u, &value, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return {static_cast<uint16_t>((u >> 16) | 0x40)};  // NaN stays NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return {static_cast<uint16_t>(u >> 16)};
}

inline float from_bfloat16(bfloat16 value) {
    uint32_t u = static_cast<uint32_t>(value.bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Map a C++ type to its DType (used by Tensor::data<T>() to check what a kernel reads).
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace ringlm
