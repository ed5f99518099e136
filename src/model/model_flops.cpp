#include "model/model_flops.h"

namespace ringlm {

int64_t matmul_parameters(const ModelConfig& m) {
    const int64_t attention = m.q_dim() * m.dim /*wq*/ + 2 * m.kv_dim() * m.dim /*wk, wv*/ + m.dim * m.q_dim() /*wo*/;
    const int64_t feed_forward = 3 * m.ffn_dim * m.dim;
    return m.n_layers * (attention + feed_forward) + m.vocab_size * m.dim;
}

double model_flops_per_step(const ModelConfig& m, int64_t sequence_len, int64_t sequences) {
    const double tokens = static_cast<double>(sequence_len * sequences);
    const double T = static_cast<double>(sequence_len);
    return 6.0 * static_cast<double>(matmul_parameters(m)) * tokens +
           6.0 * static_cast<double>(m.n_layers) * T * T * static_cast<double>(m.q_dim()) *
               static_cast<double>(sequences);
}

}  // namespace ringlm
