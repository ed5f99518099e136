// Which context-parallel backend a run uses (README "Context parallelism"): the configured
// one checked against the model's heads and the SP group, or, for `auto`, the rule
//   S = 1                                   -> none
//   the SP group on one node, heads split over S and Ulysses sends fewer bytes than the ring
//     (H + max(Hkv, S) < S x Hkv: all-to-alls of q, k, v, out vs S - 1 K/V shifts)  -> ulysses
//   the SP group spans nodes, U = its ranks per node with 1 < U < S, heads split over U
//                                           -> usp with U (the all-to-all stays on the node)
//   otherwise                               -> ring (ring_attn_func)
// "Heads split over U": U divides the attention heads and divides, or is a multiple of, the
// KV heads (each rank then gets whole KV heads, or one replicated KV head).
#pragma once

#include "parallel/parallel_settings.h"

#include <cstdint>
#include <string>

namespace ringlm {

struct ContextParallelPlan {
    ContextParallelBackend backend = ContextParallelBackend::ring;  // never automatic
    int ulysses_degree = 1;  // U: 1 ring, S ulysses, in between usp (RingAttentionInputs::ulysses_degree)
    std::string reason;      // for the launch summary: why this backend
};

bool heads_split_over(int64_t heads, int64_t kv_heads, int64_t ranks);

// Refuses (fail_uniform, the message starting with `where`) a backend the heads or the group
// cannot run: ulysses with heads that do not split over S, usp without a U with 1 < U < S
// dividing S over which the heads split. ulysses_degree 0: usp takes the SP ranks per node.
ContextParallelPlan plan_context_parallel(ContextParallelBackend requested, int64_t ulysses_degree, int64_t heads,
                                          int64_t kv_heads, int sp_size, int sp_ranks_per_node,
                                          const std::string& where);

}  // namespace ringlm
