# Training end to end through the CLI:
# - the held-out loss falls (eval before vs after);
# - resume: 10 steps straight, versus the step-5 checkpoint resumed to 10: identical losses,
#   bit for bit;
# - SIGUSR1 mid-run: every rank checkpoints at the step boundary and exits 0; resuming
#   finishes with the same final loss as the uninterrupted run.
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

write_config "$SCRATCH/straight.yaml" "$SCRATCH/straight" 10 <<< "save_steps: 5"
"$RINGLM" train "$SCRATCH/straight.yaml" > "$SCRATCH/straight.log"
before=$(grep -o '"eval_loss":[^,]*' "$SCRATCH/straight/metrics.jsonl" | head -1 | cut -d: -f2)
after=$(grep -o '"eval_loss":[^,]*' "$SCRATCH/straight/metrics.jsonl" | tail -1 | cut -d: -f2)
echo "held-out loss: before $before, after $after"
awk -v b="$before" -v a="$after" 'BEGIN { exit !(a < b - 0.1) }' || fail "held-out loss did not fall ($before -> $after)"

# `ringlm eval` on the final checkpoint reproduces the trainer's own held-out loss; given the
# output folder it takes the latest checkpoint (step 10, not 5); a missing path names the flag.
"$RINGLM" eval "$SCRATCH/straight.yaml" --checkpoint "$SCRATCH/straight" > "$SCRATCH/eval.log"
grep -q "^eval: weights from .*checkpoint-0000010.h5" "$SCRATCH/eval.log" || fail "eval of the folder did not take the step-10 checkpoint"
evaluated=$(sed -n 's/^eval: loss \([0-9.]*\),.*/\1/p' "$SCRATCH/eval.log")
awk -v e="$evaluated" -v a="$after" 'BEGIN { d = e - a; exit !(d < 1e-4 && d > -1e-4) }' || fail "ringlm eval gave $evaluated, training ended at $after"
echo "PASS: ringlm eval of the final checkpoint: $evaluated"
if "$RINGLM" eval "$SCRATCH/straight.yaml" --checkpoint "$SCRATCH/nowhere.h5" > "$SCRATCH/eval_missing.log" 2>&1; then
    fail "eval of a missing checkpoint succeeded"
fi
grep -q "error: --checkpoint $SCRATCH/nowhere.h5: no such file" "$SCRATCH/eval_missing.log" || fail "eval of a missing checkpoint: $(cat "$SCRATCH/eval_missing.log")"
echo "PASS: ringlm eval refuses a missing checkpoint, naming --checkpoint"

mkdir "$SCRATCH/resumed"
cp "$SCRATCH/straight/checkpoint-0000005.h5" "$SCRATCH/resumed/"
write_config "$SCRATCH/resumed.yaml" "$SCRATCH/resumed" 10 <<< "resume_from_checkpoint: auto"
"$RINGLM" train "$SCRATCH/resumed.yaml" > "$SCRATCH/resumed.log"
grep -q "resuming from .*checkpoint-0000005.h5 at step 5" "$SCRATCH/resumed.log" || fail "did not resume at step 5"
diff <(losses "$SCRATCH/straight/metrics.jsonl" | tail -5) <(losses "$SCRATCH/resumed/metrics.jsonl") \
    || fail "resumed losses differ from the uninterrupted run"
echo "PASS: steps 6-10 resumed from the step-5 checkpoint match bit for bit"

# SIGUSR1: a longer run, signalled after its second step.
write_config "$SCRATCH/long.yaml" "$SCRATCH/long" 40 <<< "resume_from_checkpoint: auto"
"$RINGLM" train "$SCRATCH/long.yaml" > "$SCRATCH/long.log" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q "^step     2/" "$SCRATCH/long.log" 2>/dev/null && break; sleep 0.1; done
kill -USR1 $pid
wait $pid || fail "the signalled run exited with $?"
grep -q "checkpointing at step" "$SCRATCH/long.log" || fail "no checkpoint on SIGUSR1"
stopped_at=$(ls "$SCRATCH/long" | grep -o 'checkpoint-[0-9]*' | tail -1)
"$RINGLM" train "$SCRATCH/long.yaml" > "$SCRATCH/long2.log" 2>&1
write_config "$SCRATCH/long_straight.yaml" "$SCRATCH/long_straight" 40 < /dev/null
"$RINGLM" train "$SCRATCH/long_straight.yaml" > /dev/null 2>&1
[ "$(losses "$SCRATCH/long/metrics.jsonl" | tail -1)" = "$(losses "$SCRATCH/long_straight/metrics.jsonl" | tail -1)" ] \
    || fail "final loss after SIGUSR1 + resume differs from the uninterrupted run"
echo "PASS: stopped by SIGUSR1 at $stopped_at, resumed to the same final loss $(losses "$SCRATCH/long_straight/metrics.jsonl" | tail -1)"
