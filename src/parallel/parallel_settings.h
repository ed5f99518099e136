// The settings of sequence parallelism as plain enums (the config parser reads them from YAML,
// src/parallel and above take them): the ring variant, the load balance, the transport and
// the context-parallel backend. The YAML spelling of each is its name, listed in order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringlm {

enum class RingAttnFunc : uint8_t { batch_ring, batch_zigzag, batch_stripe, varlen_llama3 };
inline constexpr std::array<std::string_view, 4> ring_attn_func_names{"batch_ring", "batch_zigzag",
                                                                      "batch_stripe", "varlen_llama3"};

// `context_parallel.load_balance:` how a rank's share of each row is chosen. none: the ring
// variant's own layout (batch_ring and varlen_llama3 contiguous chunks, batch_zigzag two chunks
// per row, batch_stripe every S-th token); document: every packed document (and the padding)
// split head-tail across the S ranks, so causal attention work is nearly equal whatever the
// document lengths (parallel/chunk_layout.h ChunkLayout::document). Unset: resolve_load_balance.
enum class LoadBalance : uint8_t { none, document };
inline constexpr std::array<std::string_view, 2> load_balance_names{"none", "document"};

// `transport:` how SP ranks exchange K/V and how gradients are summed: auto = nccl with backend
// cuda (when every rank has its own GPU), mpi with backend cpu.
enum class TransportKind : uint8_t { automatic, mpi, nccl };
inline constexpr std::array<std::string_view, 3> transport_names{"auto", "mpi", "nccl"};

// `context_parallel.backend`: how attention spans the SP group (README "Context parallelism"):
// ring = a ring variant (ring_attn_func), ulysses = all-to-all over heads, usp = Ulysses over
// ulysses_degree ranks x a ring over the rest; auto = chosen at start-up by heads, S and nodes.
enum class ContextParallelBackend : uint8_t { automatic, ring, ulysses, usp };
inline constexpr std::array<std::string_view, 4> context_parallel_backend_names{"auto", "ring", "ulysses", "usp"};

std::string_view name(RingAttnFunc value);
std::string_view name(LoadBalance value);
std::string_view name(TransportKind value);
std::string_view name(ContextParallelBackend value);

// "batch_ring, batch_zigzag, batch_stripe, varlen_llama3": for messages that list choices.
std::string ring_attn_func_list();
// A name as a user (or a bench sweep) wrote it; nullopt when it is not one of the four.
std::optional<RingAttnFunc> parse_ring_attn_func(std::string_view text);
// `ring_attn_func` unset: varlen_llama3 for packed rows (segment masks and all-gathered K/V
// suit many short documents), batch_zigzag otherwise (balanced causal work per ring step).
RingAttnFunc resolve_ring_attn_func(std::optional<RingAttnFunc> configured, bool sample_packing);
// `load_balance` unset: document for packed rows (measured on 100 packed 8K-token Austen rows
// at S = 4, bench/RESULTS.md: the busiest rank's attention work over the mean is 1.12 with
// contiguous chunks and 1.09 with zigzag per row, 3.8 and 2.9 in the worst row; 1.0000 with
// document, 1.0004 worst), none otherwise (one document per row: the variant's own layout is
// what it promises, batch_zigzag's already balanced).
LoadBalance resolve_load_balance(std::optional<LoadBalance> configured, bool sample_packing);

}  // namespace ringlm
