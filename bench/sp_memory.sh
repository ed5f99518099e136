#!/usr/bin/env bash
# Per-rank peak activation memory of one long sequence under sequence parallelism:
# S = 1 (one rank, local attention) and S = 2, 4 for each ring attention variant.
#
#   bench/sp_memory.sh [BUILD_DIR] [SEQUENCE_LEN]        (defaults: build, 16384)
#
# A tiny fresh model (dim 64, 2 layers, 4 heads, 2 KV heads, vocabulary 512) so the
# activations, not the weights, are what is measured; gradient checkpointing on, micro batch
# 1, one row of SEQUENCE_LEN tokens cut from the Austen novels (one document per novel), no
# packing. The number is activation_peak_bytes of metrics.jsonl: the step's peak bytes in use
# minus those in use when the step began (weights, gradients, optimizer state), the largest
# over the ranks, over 2 steps. One thread per rank.
set -euo pipefail
BUILD=${1:-build}
SEQUENCE_LEN=${2:-16384}
RINGLM="$BUILD/ringlm"
SCRATCH=$(mktemp -d /tmp/ringlm_sp_memory.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun --oversubscribe)
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi

"$RINGLM" prepare --tokenizer data/stories260K/tok512.bin --output "$SCRATCH/novels.h5" data/austen > /dev/null 2>&1

run() {  # run S VARIANT [HEADS_K_STRIDE] -> prints activation_peak_bytes
    local name="S$1_${2:-local}_${3:-0}"
    cat > "$SCRATCH/$name.yaml" <<YAML
model_config:
  dim: 64
  n_layers: 2
  n_heads: 4
  n_kv_heads: 2
  vocab_size: 512
datasets:
  - path: $SCRATCH/novels.h5
sequence_len: $SEQUENCE_LEN
micro_batch_size: 1
gradient_checkpointing: true
max_steps: 2
learning_rate: 0.001
output_dir: $SCRATCH/$name
sequence_parallel_degree: $1
${2:+ring_attn_func: $2}
${3:+heads_k_stride: $3}
YAML
    "${MPIRUN[@]}" -np "$1" "$RINGLM" train "$SCRATCH/$name.yaml" > "$SCRATCH/$name.log" 2>&1 \
        || { echo "$name failed:" >&2; tail -5 "$SCRATCH/$name.log" >&2; exit 1; }
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
