# kill -9 of a whole `mpirun -np 2 ringlm train` job (mpirun and both ranks at once, as a node
# failure would) at random moments, at least one of them inside a checkpoint save (a
# checkpoint-*.h5.tmp left behind proves it), each followed by a rerun with
# resume_from_checkpoint: auto and save_total_limit: 2. Every step's loss in metrics.jsonl,
# those logged before a kill included, equals the uninterrupted run's bit for bit.
# Then one flipped byte in the newest checkpoint: resume skips it, saying which file and why,
# resumes from the one before and again reproduces the uninterrupted losses.
# train_resume_test.sh covers resume from a given checkpoint and SIGUSR1; this is the crash side.
# RINGLM_TEST_SEED=N repeats a run's kill times.
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
seed=${RINGLM_TEST_SEED:-$(( $(date +%s%N) % 1000000 ))}
echo "seed $seed (RINGLM_TEST_SEED=$seed repeats these kill times)"
RANDOM=$seed
steps=12
settings=$'sequence_parallel_degree: 2\nsave_steps: 1\nsave_total_limit: 2\nresume_from_checkpoint: auto'
write_config "$SCRATCH/straight.yaml" "$SCRATCH/straight" $steps <<< "$settings"
write_config "$SCRATCH/killed.yaml" "$SCRATCH/killed" $steps <<< "$settings"
train() { mpirun -np 2 "$RINGLM" train "$SCRATCH/$1.yaml"; }

train straight > "$SCRATCH/straight.log" 2>&1 || fail "uninterrupted run failed: $(tail -5 "$SCRATCH/straight.log")"

# Every process of the job: mpirun and its descendants, by id.
job_processes() {
    local pids=$1 next=$1
    while [ -n "$next" ]; do
        next=$(for pid in $next; do pgrep -P "$pid" || true; done)
        pids="$pids $next"
    done
    echo $pids
}
step_logged() { grep -c '"loss"' "$SCRATCH/killed/metrics.jsonl" 2>/dev/null || echo 0; }

# Kill mode "save": the moment a checkpoint's temporary file appears. Mode "random": after a
# random 0-2 s (start-up, data loading and resume included), or once the run has logged a random
# step. Up to 8 kills until at least 3 happened and one landed inside a save.
kills=0 during_save=0
for attempt in $(seq 8); do
    [ $kills -ge 3 ] && [ $during_save -ge 1 ] && break
    [ "$(step_logged)" -ge $((steps - 2)) ] && break  # too close to the end to kill again
    mode=random
    [ $during_save -eq 0 ] && [ $((attempt % 2)) -eq 0 ] && mode=save
    delay=$(( RANDOM % 2000 ))
    train killed >> "$SCRATCH/killed.log" 2>&1 &
    mpirun_pid=$!
    if [ $mode = save ]; then
        # The next checkpoint's temporary file (within 20 s).
        give_up=$((SECONDS + 20))
        while [ $SECONDS -lt $give_up ]; do
            compgen -G "$SCRATCH/killed/checkpoint-*.h5.tmp" > /dev/null && break
            kill -0 $mpirun_pid 2> /dev/null || break
        done
    else
        sleep "$(printf '0.%03d' $delay)"
    fi
    if ! kill -0 $mpirun_pid 2> /dev/null; then
        wait $mpirun_pid || true
        echo "attempt $attempt: the job ended before the kill"
        break
    fi
    kill -9 $(job_processes $mpirun_pid) 2> /dev/null || true
    wait $mpirun_pid 2> /dev/null || true
    kills=$((kills + 1))
    left=$(cd "$SCRATCH/killed" && ls checkpoint-*.h5.tmp 2> /dev/null || true)
    if [ -n "$left" ]; then
        during_save=$((during_save + 1))
        rm -f "$SCRATCH/killed"/checkpoint-*.h5.tmp  # not needed for resume; the next save rewrites it anyway
    fi
    echo "kill $kills ($mode, ${delay} ms): $(step_logged) losses logged, checkpoints: $(cd "$SCRATCH/killed" 2> /dev/null && ls checkpoint-*.h5 2> /dev/null | tr '\n' ' ')${left:+, killed during the save of $left}"
done
[ $kills -ge 3 ] || fail "only $kills kills landed (the job was faster than the kills)"
[ $during_save -ge 1 ] || fail "no kill landed inside a checkpoint save"

train killed >> "$SCRATCH/killed.log" 2>&1 || fail "the final resume failed: $(tail -5 "$SCRATCH/killed.log")"
grep -q "resuming from .*checkpoint-" "$SCRATCH/killed.log" || fail "no run resumed from a checkpoint"

# Every logged loss (re-run steps appear more than once) against the uninterrupted run's.
compare_losses() {  # compare_losses METRICS: prints a summary, exits non-zero on a difference
    python3 - "$SCRATCH/straight/metrics.jsonl" "$1" $steps <<'PY'
import json, sys
def records(path):
    for line in open(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill
        if "loss" in record and "step" in record:
            yield record["step"], line.split('"loss":')[1].split(",")[0].split("}")[0]
straight = dict(records(sys.argv[1]))
seen, logged = set(), 0
for step, loss in records(sys.argv[2]):
    logged += 1
    seen.add(step)
    if loss != straight[step]:
        sys.exit(f"step {step}: loss {loss}, the uninterrupted run had {straight[step]}")
missing = set(range(1, int(sys.argv[3]) + 1)) - seen
if missing:
    sys.exit(f"steps never logged: {sorted(missing)}")
print(f"{logged} losses logged for {len(seen)} steps, every one equal to the uninterrupted run's")
PY
}
summary=$(compare_losses "$SCRATCH/killed/metrics.jsonl") || fail "$summary"
echo "PASS: $kills kills ($during_save inside a save), resumed each time: $summary"
kept=$(cd "$SCRATCH/killed" && ls checkpoint-*.h5 | tr '\n' ' ')
[ "$(echo $kept | wc -w)" -eq 2 ] || fail "save_total_limit 2 left: $kept"
echo "PASS: save_total_limit 2 kept $kept"

# One flipped byte in the middle of the newest checkpoint (tensor data: the weights and AdamW
# moments are nearly all of the file).
newest=$(printf '%s/checkpoint-%07d.h5' "$SCRATCH/killed" $steps)
previous=$(printf '%s/checkpoint-%07d.h5' "$SCRATCH/killed" $((steps - 1)))
middle=$(( $(stat -c %s "$newest") / 2 ))
byte=$(od -An -tu1 -j $middle -N1 "$newest" | tr -d ' ')
printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$newest" bs=1 seek=$middle conv=notrunc status=none
train killed > "$SCRATCH/flipped.log" 2>&1 || fail "resume past the corrupt checkpoint failed: $(tail -5 "$SCRATCH/flipped.log")"
grep -q "^warning: $newest: /[a-z_/.0-9]*: checksum mismatch .*; skipped, using $previous\$" "$SCRATCH/flipped.log" ||
    fail "no warning naming the corrupt checkpoint and its tensor: $(grep -v '^step' "$SCRATCH/flipped.log" | head -5)"
grep -q "resuming from $previous at step $((steps - 1))" "$SCRATCH/flipped.log" || fail "did not resume from $previous"
summary=$(compare_losses "$SCRATCH/killed/metrics.jsonl") || fail "after the flipped byte: $summary"
echo "PASS: $(grep -o "^warning: .*checksum mismatch" "$SCRATCH/flipped.log" | sed "s|$SCRATCH/||"); resumed from step $((steps - 1)), losses still equal"
