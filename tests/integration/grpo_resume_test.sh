# `ringlm grpo` resumed from a checkpoint continues the run it came from: 4 steps straight
# (checkpoint at step 2) versus the step-2 checkpoint resumed to step 4 under
# resume_from_checkpoint: auto give the same rewards, KL, losses and gradient norms for steps
# 3 and 4, bit for bit (same rollouts: they are seeded by step; same reference model: the
# initial policy, not the checkpoint).
source "$(dirname "$0")/common.sh" "$@"
MPIRUN=(mpirun -np 2)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# A reward that differs between completions from the first step (so the policy moves): the
# share of the letter 'e'.
cat > "$SCRATCH/letters.py" <<'PY'
import json, sys
for line in sys.stdin:
    text = json.loads(line)["completion"]
    print(text.count("e") / max(len(text), 1))
PY
grpo_config() {  # grpo_config FILE OUTPUT_DIR
    write_grpo_config "$1" "$2" 4 <<YAML
lr_scheduler: constant
trl:
  num_generations: 4
  max_completion_length: 16
  beta: 0.04
  reward_funcs: []
  reward_command: python3 $SCRATCH/letters.py
save_steps: 2
resume_from_checkpoint: auto
YAML
}
# The per-step values of metrics.jsonl, exactly as written.
step_values() { grep -o '"\(reward\|kl\|loss\|grad_norm\)":[^,}]*' "${1:--}"; }

grpo_config "$SCRATCH/straight.yaml" "$SCRATCH/straight"
"${MPIRUN[@]}" "$RINGLM" grpo "$SCRATCH/straight.yaml" > "$SCRATCH/straight.log" 2>&1 ||
    fail "straight run failed: $(cat "$SCRATCH/straight.log")"
[ -f "$SCRATCH/straight/checkpoint-0000002.h5" ] || fail "no step-2 checkpoint: $(ls "$SCRATCH/straight")"

mkdir "$SCRATCH/resumed"
cp "$SCRATCH/straight/checkpoint-0000002.h5" "$SCRATCH/resumed/"
grpo_config "$SCRATCH/resumed.yaml" "$SCRATCH/resumed"
"${MPIRUN[@]}" "$RINGLM" grpo "$SCRATCH/resumed.yaml" > "$SCRATCH/resumed.log" 2>&1 ||
    fail "resumed run failed: $(cat "$SCRATCH/resumed.log")"
grep -q "resuming from .*checkpoint-0000002.h5 at step 2" "$SCRATCH/resumed.log" || fail "did not resume at step 2"
[ "$(grep -c '"reward"' "$SCRATCH/resumed/metrics.jsonl")" -eq 2 ] || fail "expected steps 3 and 4 only"
diff <(tail -2 "$SCRATCH/straight/metrics.jsonl" | step_values) <(step_values "$SCRATCH/resumed/metrics.jsonl") ||
    fail "steps 3-4 resumed from the step-2 checkpoint differ from the uninterrupted run"
echo "PASS: steps 3-4 resumed from the step-2 checkpoint match bit for bit: $(tail -1 "$SCRATCH/resumed/metrics.jsonl" | step_values | tr '\n' ' ')"
