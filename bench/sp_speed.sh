#!/usr/bin/env bash
# Step time of sequence parallelism on CPU: one rank with one thread (S = 1) against two ranks
# with one thread each (S = 2) for every ring attention variant, on one long sequence.
#
#   bench/sp_speed.sh [BUILD_DIR] [SEQUENCE_LEN] [REPEATS]     (defaults: build, 8192, 3)
#
# The tiny fresh model of bench/sp_common.sh (attention is most of the work at this length), micro batch 1, no packing, no gradient checkpointing (with it,
# S = 1 would recompute attention while S > 1 replays the kept output: not the same work).
# Each run: 2 warm-up steps, then the median step_s of 5 steps. Each repeat measures S = 1 and
# then the four S = 2 variants, so a ratio compares runs close in time; the last table gives the
# median ratio over the repeats. "cpu s" is the busiest rank's CPU time per step (median): on a
# machine shared with other work it shows what the step would take with the cores to itself.
# The split columns are rank 0's at its median step: attention compute, waiting on the ring /
# all-gather, and the rest of forward + backward.
set -euo pipefail
BUILD=${1:-build}
SEQUENCE_LEN=${2:-8192}
REPEATS=${3:-3}
WARMUP=2 MEASURED=5
source "$(dirname "$0")/sp_common.sh"

# run S VARIANT -> "step_s cpu_s attention_s ring_wait_s other_s": medians over the measured
# steps of step_s and of cpu_s (the busiest rank's CPU time), the split of rank 0's median step
run() {
    local name="S$1_${2:-local}"
    train_tiny "$name" "$1" "$2" "" $((WARMUP + MEASURED))
    # the measured steps sorted by step_s; the middle one
    grep '"step_s"' "$SCRATCH/$name/metrics.jsonl" | tail -n "$MEASURED" | python3 -c '
import json, sys
steps = sorted((json.loads(line) for line in sys.stdin), key=lambda m: m["step_s"])
m = steps[len(steps) // 2]
cpu = sorted(step["cpu_s"] for step in steps)[len(steps) // 2]
print(m["step_s"], cpu, m["attention_s"], m["ring_wait_s"], m["compute_s"] - m["attention_s"])'
}

echo "sequence_len $SEQUENCE_LEN, dim 64, 2 layers, 4 heads / 2 KV heads, 1 thread per rank; $(nproc --all) cores," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
declare -A ratios cpu_ratios
header="%-14s %2s %8s %8s %8s %8s %10s %10s %10s\n"
row="%-14s %2s %8.3f %8.3f %8.3f %8.3f %10.3f %10.3f %10.3f\n"
for repeat in $(seq "$REPEATS"); do
    read -r single_step single_cpu single_attention single_wait single_other <<< "$(run 1 "")"
    printf "\nrepeat %d\n$header" "$repeat" variant S "step s" "x S=1" "cpu s" "x S=1" attention "ring wait" other
    printf "$row" "(local)" 1 "$single_step" 1.000 "$single_cpu" 1.000 "$single_attention" "$single_wait" "$single_other"
    for variant in batch_ring batch_zigzag batch_stripe varlen_llama3; do
        read -r step cpu attention wait other <<< "$(run 2 "$variant")"
        ratio=$(awk -v a="$step" -v b="$single_step" 'BEGIN { printf "%.3f", a / b }')
        cpu_ratio=$(awk -v a="$cpu" -v b="$single_cpu" 'BEGIN { printf "%.3f", a / b }')
        ratios[$variant]+="$ratio "
        cpu_ratios[$variant]+="$cpu_ratio "
        printf "$row" "$variant" 2 "$step" "$ratio" "$cpu" "$cpu_ratio" "$attention" "$wait" "$other"
    done
done
median() { tr ' ' '\n' <<< "$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf "\nmedian over %d repeats, S=2 / S=1 (load average %s at the end)\n" "$REPEATS" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-14s %10s %10s   %s\n" variant "step time" "busiest cpu" "(step time ratios of each repeat)"
for variant in batch_ring batch_zigzag batch_stripe varlen_llama3; do
    printf "%-14s %10s %10s   (%s)\n" "$variant" "$(median "${ratios[$variant]}")" "$(median "${cpu_ratios[$variant]}")" \
        "${ratios[$variant]% }"
done
