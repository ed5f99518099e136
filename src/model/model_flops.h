// Model FLOPs of a training step: what MFU counts, the same formula for `ringlm bench`, the
// Google Benchmark training step and the GPU check (recomputation under activation
// checkpointing is not counted):
//   per step = 6 * N_matmul * tokens  +  6 * n_layers * T^2 * q_dim * sequences
//   (q_dim = n_heads * head_dim: dim, unless head_dim is explicit as in Qwen3)
//   N_matmul = parameters that multiply activations: per layer wq, wk, wv, wo, w1, w2, w3, plus
//              the classifier (vocab * dim, tied or not); norms and the embedding lookup are not
//              matmuls. 6 = 2 (multiply-add) * 3 (forward, and backward's two GEMMs).
//   attention: Q K^T and P V are 2 * T^2 * q_dim each for full attention; causal needs half the
//              score matrix, so forward 2 * T^2 * q_dim, backward twice that: 6 * T^2 * q_dim per
//              layer per sequence of T tokens (PaLM's 12 * L * dim * T^2, halved for causality).
#pragma once

#include "model/model_config.h"

#include <cstdint>

namespace ringlm {

int64_t matmul_parameters(const ModelConfig& model);
double model_flops_per_step(const ModelConfig& model, int64_t sequence_len, int64_t sequences);

}  // namespace ringlm
