# Hangs and dead ranks under `mpirun -np 4` (the srun case is in tests/slurm):
#   1. one rank killed with SIGKILL mid-run: every rank is gone within 30 s, exit non-zero;
#   2. one rank stopped with SIGSTOP (a hang) and collective_timeout_s: 5: the watchdog of a
#      rank waiting on it prints which operation did not complete, and the job is aborted,
#      every rank gone within the timeout plus a margin for a busy machine (20 s in all), exit
#      non-zero.
# Each run is long (thousands of steps) so the fault surely lands mid-run; the stopped rank is
# continued and killed at the end, whatever happened, so nothing is left behind.
source "$(dirname "$0")/common.sh" "$@"
source "$(dirname "$0")/rank_faults.sh"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun -np 4)
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi

# --- 1. SIGKILL of rank 1 ---------------------------------------------------------------------------
write_config "$SCRATCH/kill.yaml" "$SCRATCH/kill" 100000 <<< "sequence_parallel_degree: 2"
"${MPIRUN[@]}" "$RINGLM" train "$SCRATCH/kill.yaml" > "$SCRATCH/kill.out" 2> "$SCRATCH/kill.err" &
launcher=$!
fault_and_time_exit KILL 1 "$SCRATCH/kill.yaml" "$SCRATCH/kill/metrics.jsonl" "$launcher" 30 \
    || fail "SIGKILL of rank 1: $FAULT_RESULT; stderr: $(tail -n 5 "$SCRATCH/kill.err")"
echo "SIGKILL of rank 1 of 4 (mpirun): $FAULT_RESULT"

# --- 2. SIGSTOP of rank 2: the watchdog names the operation and aborts ----------------------------------
# S = 4 with batch_ring: rank 3 waits on a ring receive from rank 2, the others in turn on it.
write_config "$SCRATCH/hang.yaml" "$SCRATCH/hang" 100000 <<'YAML'
sequence_parallel_degree: 4
ring_attn_func: batch_ring
collective_timeout_s: 5
YAML
"${MPIRUN[@]}" "$RINGLM" train "$SCRATCH/hang.yaml" > "$SCRATCH/hang.out" 2> "$SCRATCH/hang.err" &
launcher=$!
fault_and_time_exit STOP 2 "$SCRATCH/hang.yaml" "$SCRATCH/hang/metrics.jsonl" "$launcher" 20 \
    || fail "SIGSTOP of rank 2: $FAULT_RESULT; stderr: $(tail -n 5 "$SCRATCH/hang.err")"
grep -E "^ringlm: error: rank [0-9]: .* did not complete within 5 s \(collective_timeout_s\): .*hung or dead$" \
    "$SCRATCH/hang.err" > "$SCRATCH/hang.lines" \
    || fail "SIGSTOP of rank 2: no watchdog line naming the operation; stderr: $(cat "$SCRATCH/hang.err")"
sed 's/^/  /' "$SCRATCH/hang.lines"
echo "SIGSTOP of rank 2 of 4 (mpirun, collective_timeout_s 5): $FAULT_RESULT"
echo "PASS: a killed rank (30 s allowed) and a hung rank (20 s) each stopped the whole job, non-zero"
