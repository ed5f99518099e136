# Shared by bench/sp_memory.sh and bench/sp_speed.sh (sourced, not run): the scratch folder,
# mpirun, the Austen dataset and the tiny fresh model both measure on. The model (dim 64,
# 2 layers, 4 heads, 2 KV heads, vocabulary 512) is small so that activations and attention,
# not the weights, are what a long sequence costs. One thread per rank.
RINGLM="$BUILD/ringlm"
SCRATCH=$(mktemp -d "/tmp/ringlm_$(basename "$0" .sh).XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# Not pinned: on a node shared with other work the scheduler can move a rank off a busy core.
MPIRUN=(mpirun --oversubscribe --bind-to none)
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi

"$RINGLM" prepare --tokenizer data/stories260K/tok512.bin --output "$SCRATCH/novels.h5" data/austen > /dev/null 2>&1

# train_tiny NAME S VARIANT HEADS_K_STRIDE MAX_STEPS [EXTRA_YAML_LINE]: one training run of
# micro batch 1, one row of SEQUENCE_LEN tokens, no packing; metrics in $SCRATCH/NAME.
train_tiny() {
    local name=$1 sp=$2 variant=$3 stride=$4 steps=$5 extra=${6:-}
    rm -rf "${SCRATCH:?}/$name"
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
max_steps: $steps
learning_rate: 0.001
output_dir: $SCRATCH/$name
sequence_parallel_degree: $sp
${variant:+ring_attn_func: $variant}
${stride:+heads_k_stride: $stride}
$extra
YAML
    "${MPIRUN[@]}" -np "$sp" "$RINGLM" train "$SCRATCH/$name.yaml" > "$SCRATCH/$name.log" 2>&1 \
        || { echo "$name failed:" >&2; tail -5 "$SCRATCH/$name.log" >&2; exit 1; }
}
