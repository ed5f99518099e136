#!/usr/bin/env bash
# Per-rank peak activation memory of one long sequence under sequence parallelism:
# S = 1 (one rank, local attention) and S = 2, 4 for each ring attention variant, Ulysses
# (context_parallel.backend ulysses, zigzag chunks) and USP 2 x 2.
#
#   bench/sp_memory.sh [BUILD_DIR] [SEQUENCE_LEN]        (defaults: build, 16384)
#
# The tiny fresh model of bench/sp_common.sh; gradient checkpointing on, micro batch 1, one
# row of SEQUENCE_LEN tokens cut from the Austen novels (one document per novel), no packing. The number is activation_peak_bytes of metrics.jsonl: the step's peak bytes in use
# minus those in use when the step began (weights, gradients, optimizer state), the largest
# over the ranks, over 2 steps. One thread per rank.
set -euo pipefail
BUILD=${1:-build}
SEQUENCE_LEN=${2:-16384}
source "$(dirname "$0")/sp_common.sh"

run() {  # run S VARIANT [HEADS_K_STRIDE] [CONTEXT_PARALLEL] -> prints activation_peak_bytes
    local name="S$1_${2:-local}_${3:-0}_${4:-ring}"
    train_tiny "$name" "$1" "$2" "${3:-}" 2 "gradient_checkpointing: true
context_parallel: {backend: ${4:-ring}${5:+, ulysses_degree: $5}}"
    grep -o '"activation_peak_bytes":[0-9]*' "$SCRATCH/$name/metrics.jsonl" | cut -d: -f2 | sort -n | tail -1
}

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "sequence_len $SEQUENCE_LEN, dim 64, 2 layers, 4 heads / 2 KV heads, gradient checkpointing, 1 thread per rank"
single=$(run 1 "")
printf "%-34s %3s %14s %10s\n" variant S "activation MiB" "x S=1"
printf "%-34s %3s %14s %10s\n" "(local attention)" 1 "$(mib "$single")" "1.000"
# varlen_llama3 holds the all-gathered K/V (and dK/dV) of the whole sequence for the KV heads
# it gathers at once: heads_k_stride 1 (axolotl's setting) and all of them (0) are both shown.
for setting in batch_ring: batch_zigzag: batch_stripe: varlen_llama3:1 varlen_llama3:0; do
    variant=${setting%:*} stride=${setting#*:}
    label=$variant${stride:+ (heads_k_stride $stride)}
    for S in 2 4; do
        bytes=$(run "$S" "$variant" "$stride")
        printf "%-34s %3s %14s %10s\n" "$label" "$S" "$(mib "$bytes")" \
            "$(awk -v a="$bytes" -v b="$single" 'BEGIN { printf "%.3f", a / b }')"
    done
done
# Ulysses holds the whole row for its H/S heads during attention (and re-lays Q, K, V, O, LSE,
# dO in backward); USP 2 x 2 the same over 2 ranks, then the zigzag ring over the other 2.
for setting in ulysses:2 ulysses:4 usp:4; do
    backend=${setting%:*} S=${setting#*:}
    bytes=$(run "$S" batch_zigzag "" "$backend" "$([ "$backend" = usp ] && echo 2)")
    printf "%-34s %3s %14s %10s\n" "$backend$([ "$backend" = usp ] && echo " 2 x 2 (batch_zigzag)")" "$S" \
        "$(mib "$bytes")" "$(awk -v a="$bytes" -v b="$single" 'BEGIN { printf "%.3f", a / b }')"
done
