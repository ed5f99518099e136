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
steps=16
settings=$'sequence_parallel_degree: 2\nsave_steps: 1\nsave_total_limit: 2\nresume_from_checkpoint: auto'
for run in straight killed; do  # no held-out evaluation: it is not what is tested, and slow
    write_config "$SCRATCH/$run.yaml" "$SCRATCH/$run" $steps <<< "$settings"
    sed -i 's/^val_set_size: .*/val_set_size: 0/' "$SCRATCH/$run.yaml"
done
train() { mpirun -np 2 "$RINGLM" train "$SCRATCH/$1.yaml"; }

train straight > "$SCRATCH/straight.log" 2>&1 || fail "uninterrupted run failed: $(tail -5 "$SCRATCH/straight.log")"

# The job runs in a session of its own (setsid); Open MPI gives each rank its own process
# group but they stay in mpirun's session: its processes are the whole job.
job_processes() { ps -o pid= -s "$1" | tr '\n' ' ' || true; }
step_logged() { cat "$SCRATCH/killed/metrics.jsonl" 2> /dev/null | grep -c '"loss"' || true; }
# The name of a checkpoint-*.h5.tmp this run wrote (newer than its start; a killed run's stays
# until the next save succeeds), with shell builtins only: checked in a tight loop.
new_temporary() {
    local file
    for file in "$SCRATCH/killed"/checkpoint-*.h5.tmp; do
        [ "$file" -nt "$SCRATCH/started" ] && echo "${file##*/}" && return 0
    done
    return 1
}
checkpoints() { cd "$SCRATCH/killed" 2> /dev/null && ls checkpoint-*.h5 2> /dev/null | tr '\n' ' ' || true; }

# Kill mode "save": the moment a checkpoint's temporary file appears. Mode "random": once the run
# has logged a random 0-3 more losses, after a random 0-300 ms more (so start-up, loading a
# checkpoint, steps and saves are all hit, whatever the machine's speed). Up to 10 kills, until
# at least 3 happened, one landed inside a save and one left a checkpoint to resume from.
kills=0 during_save=0 resumable=0
for attempt in $(seq 10); do
    [ $kills -ge 3 ] && [ $during_save -ge 1 ] && [ $resumable -ge 1 ] && break
    [ "$(step_logged)" -ge $((steps - 3)) ] && break  # too close to the end to kill again
    mode=random
    [ $during_save -eq 0 ] && [ $((attempt % 2)) -eq 0 ] && mode=save
    more=$(( RANDOM % 4 )) delay=$(( RANDOM % 300 ))
    target=$(( $(step_logged) + more ))
    touch "$SCRATCH/started"
    sleep 0.01  # a coarse clock must still tell this run's files from the marker
    setsid mpirun -np 2 "$RINGLM" train "$SCRATCH/killed.yaml" >> "$SCRATCH/killed.log" 2>&1 &
    job=$!  # mpirun, the session's leader
    if [ $mode = save ]; then
        # Once both ranks run, the next checkpoint's temporary file (within 20 s), then at once.
        give_up=$((SECONDS + 20))
        while [ "$(job_processes $job | wc -w)" -lt 3 ] && [ $SECONDS -lt $give_up ]; do sleep 0.01; done
        processes=$(job_processes $job)
        while [ $SECONDS -lt $give_up ]; do
            new_temporary > /dev/null && break
            kill -0 $job 2> /dev/null || break
        done
    else
        while [ "$(step_logged)" -lt $target ] && kill -0 $job 2> /dev/null; do sleep 0.02; done
        sleep "$(printf '0.%03d' $delay)"
        processes=$(job_processes $job)
    fi
    if ! kill -0 $job 2> /dev/null; then
        wait $job || true
        echo "attempt $attempt: the job ended before the kill"
        break
    fi
    kill -9 $processes 2> /dev/null || true
    wait $job 2> /dev/null || true
    for _ in $(seq 100); do  # every process gone, a rank that started after the list was made too
        processes=$(job_processes $job)
        [ -z "$processes" ] && break
        kill -9 $processes 2> /dev/null || true
        sleep 0.05
    done
    kills=$((kills + 1))
    left=$(new_temporary || true)
    [ -n "$left" ] && during_save=$((during_save + 1))
    [ -n "$(checkpoints)" ] && resumable=$((resumable + 1))
    label="$more more loss(es) + ${delay} ms"
    [ $mode = save ] && label="on a checkpoint's .tmp"
    echo "kill $kills ($label${left:+, during the save of $left}): $(step_logged) losses logged, checkpoints: $(checkpoints)"
done
[ $kills -ge 3 ] || fail "only $kills kills landed (the job was faster than the kills)"
[ $during_save -ge 1 ] || fail "no kill landed inside a checkpoint save"
[ $resumable -ge 1 ] || fail "no kill left a checkpoint to resume from"

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
kept=$(cd "$SCRATCH/killed" && ls checkpoint-* | tr '\n' ' ')
[ "$(echo $kept | wc -w)" -eq 2 ] || fail "save_total_limit 2 and the cleanup of killed saves' .tmp left: $kept"
echo "PASS: save_total_limit 2 kept $kept (no .tmp of a killed save left)"

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
