#include "parallel/context_parallel.h"

#include "util/error.h"

#include <algorithm>

namespace ringlm {

bool heads_split_over(int64_t heads, int64_t kv_heads, int64_t ranks) {
    return ranks >= 1 && heads % ranks == 0 && (kv_heads % ranks == 0 || ranks % kv_heads == 0);
}

namespace {

ContextParallelPlan plan_ulysses(int64_t heads, int64_t kv_heads, int S, const std::string& why) {
    return {ContextParallelBackend::ulysses, S,
            fmt::format("ulysses over S={} ({} heads, {} KV heads; {})", S, heads, kv_heads, why)};
}

ContextParallelPlan plan_usp(int U, int S, const std::string& why) {
    return {ContextParallelBackend::usp, U, fmt::format("usp: ulysses over U={} x ring over R={} ({})", U, S / U, why)};
}

}  // namespace

ContextParallelPlan plan_context_parallel(ContextParallelBackend requested, int64_t ulysses_degree, int64_t heads,
                                          int64_t kv_heads, int sp_size, int sp_ranks_per_node,
                                          const std::string& where) {
    const int S = sp_size;
    if (S == 1) return {ContextParallelBackend::ring, 1, "none (sequence_parallel_degree 1)"};
    switch (requested) {
        case ContextParallelBackend::ring: return {ContextParallelBackend::ring, 1, "ring (configured)"};
        case ContextParallelBackend::ulysses:
            if (!heads_split_over(heads, kv_heads, S))
                fail_uniform("{}context_parallel.backend ulysses: the model's {} attention heads and {} KV heads cannot "
                             "be split over size {} (it must divide the heads and divide, or be a multiple of, the KV "
                             "heads); use backend ring or usp",
                             where, heads, kv_heads, S);
            return plan_ulysses(heads, kv_heads, S, "configured");
        case ContextParallelBackend::usp: {
            const int U = ulysses_degree > 0 ? static_cast<int>(ulysses_degree) : std::min(sp_ranks_per_node, S);
            if (U <= 1 || U >= S || S % U != 0 || !heads_split_over(heads, kv_heads, U))
                fail_uniform("{}context_parallel.backend usp: ulysses_degree {}{} must be between 1 and size {} "
                             "(exclusive), divide it, and split the model's {} attention heads and {} KV heads",
                             where, U, ulysses_degree > 0 ? "" : " (the SP ranks per node)", S, heads, kv_heads);
            return plan_usp(U, S, "configured");
        }
        case ContextParallelBackend::automatic: break;
    }
    const bool one_node = sp_ranks_per_node >= S;
    if (one_node && heads_split_over(heads, kv_heads, S) && heads + std::max<int64_t>(kv_heads, S) < S * kv_heads)
        return plan_ulysses(heads, kv_heads, S, "auto: one node, fewer bytes than the ring");
    const int U = sp_ranks_per_node;
    if (!one_node && U > 1 && S % U == 0 && heads_split_over(heads, kv_heads, U))
        return plan_usp(U, S, "auto: the SP group spans nodes, the all-to-all stays on each node");
    return {ContextParallelBackend::ring, 1,
            one_node ? "ring (auto: one node, the ring sends no more bytes than ulysses or the heads do not split)"
                     : "ring (auto: the SP group spans nodes and the heads do not split over a node's ranks)"};
}

}  // namespace ringlm
