#include "parallel/parallel_settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ringlm {

std::string_view name(RingAttnFunc value) { return ring_attn_func_names[static_cast<size_t>(value)]; }
std::string_view name(ContextParallelBackend value) {
    return context_parallel_backend_names[static_cast<size_t>(value)];
}
std::string_view name(LoadBalance value) { return load_balance_names[static_cast<size_t>(value)]; }
std::string_view name(TransportKind value) { return transport_names[static_cast<size_t>(value)]; }

std::string ring_attn_func_list() { return fmt::format("{}", fmt::join(ring_attn_func_names, ", ")); }

std::optional<RingAttnFunc> parse_ring_attn_func(std::string_view text) {
    for (size_t i = 0; i < ring_attn_func_names.size(); i++)
        if (ring_attn_func_names[i] == text) return static_cast<RingAttnFunc>(i);
    return std::nullopt;
}

RingAttnFunc resolve_ring_attn_func(std::optional<RingAttnFunc> configured, bool sample_packing) {
    if (configured) return *configured;
    return sample_packing ? RingAttnFunc::varlen_llama3 : RingAttnFunc::batch_zigzag;
}

LoadBalance resolve_load_balance(std::optional<LoadBalance> configured, bool sample_packing) {
    if (configured) return *configured;
    return sample_packing ? LoadBalance::document : LoadBalance::none;
}

}  // namespace ringlm
