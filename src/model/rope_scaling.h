// RoPE's inverse frequencies for every scaling rule transformers names in config.json's
// rope_scaling (modeling_rope_utils.py), one table per model: the kernels read it and never
// know the rule. For i < D/2, with base_i = theta^(-2i/D):
//   default  base_i
//   linear   base_i / factor                  (positions divided by factor)
//   llama3   wavelength w_i = 2 pi / base_i, L = original_max_position:
//            w_i < L / high_freq_factor: base_i;  w_i > L / low_freq_factor: base_i / factor;
//            between: (1 - a) base_i / factor + a base_i,  a = (L / w_i - low) / (high - low)
//   yarn     d(r) = D ln(L / (2 pi r)) / (2 ln theta), the dimension that turns r times over L
//            (L = original_max_position, or max_position); lo = floor(d(beta_fast)),
//            hi = ceil(d(beta_slow)) clamped to [0, D - 1]; ramp_i = clamp((i - lo) / (hi - lo), 0, 1)
//            inv_i = base_i / factor * ramp_i + base_i * (1 - ramp_i)
//            and cos, sin multiplied by attention_factor (default 0.1 ln(factor) + 1; 1 if factor <= 1)
#pragma once

#include "model/model_config.h"

#include <vector>

namespace ringlm {

std::vector<double> rope_inverse_frequencies(const ModelConfig& config);
// The factor on cos and sin (YaRN's attention_factor); 1 for the other rules.
double rope_attention_scaling(const ModelConfig& config);

}  // namespace ringlm
