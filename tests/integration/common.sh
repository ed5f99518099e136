# Shared by the integration tests: paths, a scratch folder removed on exit, assertions.
# Each test is run by ctest as: bash TEST.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD_DIR=$(cd "$1" && pwd)
SOURCE_DIR=$(cd "$2" && pwd)
RINGLM="$BUILD_DIR/ringlm"
SCRATCH=$(mktemp -d /tmp/ringlm_integration.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
cd "$SOURCE_DIR"

fail() { echo "FAIL: $*" >&2; exit 1; }
# The losses of metrics.jsonl, one per line, exactly as written (bit-for-bit comparison).
losses() { grep -o '"loss":[^,}]*' "$1" | cut -d: -f2; }
# A small packed corpus from two Austen novels with the stories260K tokenizer.
make_corpus() {
    "$RINGLM" prepare --tokenizer data/stories260K/tok512.bin --split paragraphs --output "$SCRATCH/austen.h5" \
        data/austen/persuasion.txt data/austen/northangerabbey.txt > /dev/null 2>&1 || fail "prepare failed"
}
# A GRPO config for stories260K on data/grpo_prompts.jsonl at S = 2 (4 x 2 sequences per step);
# the `trl:` map and any other lines come from stdin.
write_grpo_config() {  # write_grpo_config FILE OUTPUT_DIR MAX_STEPS
    {
        cat <<YAML
rl: grpo
base_model: data/stories260K/stories260K.bin
tokenizer: data/stories260K/tok512.bin
datasets:
  - path: data/grpo_prompts.jsonl
micro_batch_size: 4
gradient_accumulation_steps: 2
max_steps: $3
learning_rate: 0.001
sequence_parallel_degree: 2
output_dir: $2
seed: 3
YAML
        cat
    } > "$1"
}
# A training config for stories260K on that corpus; extra YAML lines come from stdin.
write_config() {  # write_config FILE OUTPUT_DIR MAX_STEPS
    {
        cat <<YAML
base_model: data/stories260K/stories260K.bin
datasets:
  - path: $SCRATCH/austen.h5
val_set_size: 0.02
sequence_len: 128
sample_packing: true
micro_batch_size: 4
gradient_accumulation_steps: 2
max_steps: $3
learning_rate: 0.002
warmup_steps: 2
weight_decay: 0.01
output_dir: $2
seed: 7
YAML
        cat
    } > "$1"
}
