// exp for the CPU kernels' elementwise loops that the compiler can vectorise. std::exp is a
// libm call per element (about 20 cycles) unless built with -ffast-math, which this project
// does not use; SwiGLU and the cross-entropy gradient call it once per element of [T, F] and
// [T, V], which made them the slowest elementwise kernels of a training step.
//
// exp_f32 (Cody-Waite reduction and Cephes' expf polynomial):
//   x = n ln2 + r,  n = round(x / ln2),  |r| <= ln2 / 2,  ln2 split in two so n ln2 is exact
//   e^r ~ 1 + r + r^2 (1/2 + r (1/6 + r (1/24 + r (1/120 + r (1/720 + r / 5040)))))  (Cephes'
//   fitted coefficients),  e^x = e^r * 2^n with 2^n built from its exponent bits.
// Relative error below 2 ulp on [-87.33, 88.37] (tests/unit/vector_exp_test.cpp); below that
// range it returns 0 (flush to zero where e^x would be subnormal), above it +inf; NaN stays
// NaN. vector_exp<double> is std::exp, so f64 reference paths keep libm's accuracy.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ringlm {

inline float exp_f32(float x) {
    constexpr float lowest = -87.33654f;   // e^lowest ~ 1.18e-38, the smallest normal float
    constexpr float highest = 88.37626f;   // keeps n <= 127: 2^n stays a finite float
    const float clamped = std::min(std::max(x, lowest), highest);  // NaN passes through
    // round to nearest by adding and subtracting 1.5 * 2^23 (std::floor / std::nearbyint do
    // not vectorise without -fno-trapping-math); exact for |x / ln2| < 2^22
    constexpr float round_shift = 12582912.0f;
    const float n = (clamped * 1.44269504088896341f + round_shift) - round_shift;
    float r = clamped - n * 0.693359375f;  // ln2 high part: few bits, so n * it is exact
    r = r - n * -2.12194440e-4f;           // ln2 low part
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e_r = p * r * r + r + 1.0f;
    const float two_to_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
    const float result = e_r * two_to_n;
    return x < lowest ? 0.0f : (x > highest ? std::numeric_limits<float>::infinity() : result);
}

template <typename T>
inline T vector_exp(T x) {
    if constexpr (std::is_same_v<T, float>) {
        return exp_f32(x);
    } else {
        return std::exp(x);
    }
}

}  // namespace ringlm
