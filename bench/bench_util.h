// What several micro benchmarks share: the attention FLOP count and random operands.
#pragma once

#include "tensor/tensor.h"

#include <cstdint>
#include <random>
#include <vector>

namespace ringlm {

// Attention FLOPs: forward = 4 * pairs * H * D (scores Q K^T and P V, 2 flops per
// multiply-add), pairs = the (query, key) pairs the mask lets through, summed over the
// sequence; backward = 2.5x the forward (five pairs * H * D products: S, dP, dV, dK, dQ; the
// kernel recomputes S).
inline double attention_forward_flops(double visible_pairs, int64_t heads, int64_t head_dim) {
    return 4.0 * visible_pairs * static_cast<double>(heads) * static_cast<double>(head_dim);
}
constexpr double attention_backward_flop_ratio = 2.5;

// Pairs (i, j) of one token list with segment[i] == segment[j] and, when causal, j <= i
// (the tokens in position order).
inline double visible_pairs(const std::vector<int32_t>& segment, bool causal) {
    const size_t T = segment.size();
    int64_t visible = 0;
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) visible += segment[i] == segment[j] && (!causal || j <= i);
    return static_cast<double>(visible);
}

// f32 host tensor, uniform in [-1, 1).
inline Tensor uniform_tensor(Shape shape, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> uniform(-1, 1);
    Tensor x = empty(shape);
    for (int64_t e = 0; e < x.numel(); e++) x.data<float>()[e] = uniform(rng);
    return x;
}

}  // namespace ringlm
