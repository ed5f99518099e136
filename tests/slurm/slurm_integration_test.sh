#!/usr/bin/env bash
# ringlm under a real single-node Slurm (ctest: slurm_integration). Brings Slurm up
# (slurm_up.sh, down again on any exit), prepares a small dataset, then checks:
#   1. `srun -n 4 ringlm train` runs, and rank 0's launch summary shows the S x D layout;
#   2. `mpirun -np 4` on the same config gives the same loss at every step, to the bit;
#   3. `sbatch --wait jobs/cpu.sbatch` (the users' CPU job, pointed at the test config) too;
#   4. preemption: a job sent `scancel --signal=USR1` mid-run writes a checkpoint, exits 0,
#      requeues itself, resumes (resume_from_checkpoint: auto) and ends with the losses of the
#      uninterrupted run of 1, every step;
#   5. a dead rank: SIGKILL of rank 1 of `srun --mpi=pmix -n 4 ringlm train` (as the job scripts
#      run it) ends the step within 30 s, non-zero, every rank gone;
#   6. the same in a job of jobs/cpu.sbatch: the job fails and is not requeued (only a
#      checkpointed preemption is).
# Fails, saying why, when Slurm cannot start (not root, packages missing): CI must not skip it.
#
#   tests/slurm/slurm_integration_test.sh [PATH/TO/ringlm]     (default build/ringlm)
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ringlm=$(realpath "${1:-$source_dir/build/ringlm}")
[ -x "$ringlm" ] || { echo "FAIL: $ringlm is not built (make build)"; exit 1; }
cd "$source_dir"   # the job scripts run from the repository root, as users submit them

work=$(mktemp -d "${TMPDIR:-/tmp}/ringlm-slurm-test.XXXXXX")
test_start=$(date +%s.%N)
seconds_since() { python3 -c "import sys,time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }

finish() {
  local status=$?
  if [ "$status" != 0 ]; then
    echo "--- the test failed; logs from $work:"
    for log in "$work"/*.out "$work"/slurm/log/slurmctld.log "$work"/slurm/log/slurmd.log; do
      [ -f "$log" ] && { echo "--- $log (last 30 lines)"; tail -n 30 "$log"; }
    done
  fi
  "$source_dir/tests/slurm/slurm_down.sh" "$work/slurm"
  rm -rf "$work"
  exit "$status"
}
trap finish EXIT
fail() { echo "FAIL: $*"; exit 1; }
source "$source_dir/tests/integration/rank_faults.sh"

# --- the environment the ranks need here (a test's, not a user's job's) --------------------------
ranks=4
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # CI runs as root
export OMPI_MCA_rmaps_base_oversubscribe=1                           # mpirun: 4 ranks on 2 cores
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# More ranks than cores: busy-polling ranks starve each other (a 1 MiB sendrecv takes 16 ms
# instead of 0.3 ms); yielding when idle lets the rank with work run.
[ "$ranks" -gt "$(nproc)" ] && export OMPI_MCA_mpi_yield_when_idle=1

# --- Slurm ------------------------------------------------------------------------------------------
up_start=$(date +%s.%N)
"$source_dir/tests/slurm/slurm_up.sh" "$work/slurm" || fail "Slurm did not start (see the line above)"
echo "Slurm up in $(seconds_since "$up_start") s"
source "$work/slurm/env.sh"

# --- data and configs ---------------------------------------------------------------------------------
mkdir -p "$work/text"
head -c 60000 data/austen/persuasion.txt >"$work/text/persuasion.txt"
"$ringlm" prepare --tokenizer data/stories260K/tok512.bin --split paragraphs --output "$work/tiny.h5" \
  "$work/text" >"$work/prepare.out" 2>&1 || { cat "$work/prepare.out"; fail "ringlm prepare failed"; }

sp=$(sed -n 's/^sequence_parallel_degree: *\([0-9]*\).*/\1/p' tests/slurm/tiny.yaml)
[ -n "$sp" ] || fail "tests/slurm/tiny.yaml has no sequence_parallel_degree line"
dp=$((ranks / sp))
# make_config NAME [KEY VALUE]...: tests/slurm/tiny.yaml with this run's output_dir and dataset
# (and optional top-level KEY replaced by VALUE), as $work/NAME.yaml.
make_config() {
  local name=$1
  shift
  local edits=(-e "s|^output_dir:.*|output_dir: $work/runs/$name|" -e "s|path: tiny.h5|path: $work/tiny.h5|")
  while [ $# -gt 0 ]; do
    edits+=(-e "s|^$1:.*|$1: $2|")
    shift 2
  done
  sed "${edits[@]}" tests/slurm/tiny.yaml >"$work/$name.yaml"
}
# losses NAME: "step loss" per line from the run's metrics.jsonl, the loss as written (17
# significant digits: equal text is equal bits).
losses() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    record = json.loads(line)
    if "loss" in record: print(record["step"], repr(record["loss"]))' "$work/runs/$1/metrics.jsonl"
}
# launch_summary_shows_layout OUTPUT: rank 0's line names the world, one node and S x D.
launch_summary_shows_layout() {
  grep -q "^ringlm: world $ranks on 1 node(s), sequence_parallel_degree S=$sp x data-parallel D=$dp" "$1" ||
    fail "$1 has no launch summary for world $ranks on 1 node, S=$sp, D=$dp"
}
same_losses() {  # same_losses REFERENCE OTHER WHAT
  diff <(losses "$1") <(losses "$2") >"$work/diff.out" || { cat "$work/diff.out"; fail "$3: losses differ from $1's"; }
}

# --- 1. srun ----------------------------------------------------------------------------------------
# preempt.yaml's run is longer, so the signal surely lands mid-run; srun runs it uninterrupted.
make_config srun max_steps 40
start=$(date +%s.%N)
srun -n "$ranks" "$ringlm" train "$work/srun.yaml" >"$work/srun.out" 2>&1 || { cat "$work/srun.out"; fail "srun -n $ranks failed"; }
echo "srun -n $ranks: $(losses srun | wc -l) steps in $(seconds_since "$start") s"
launch_summary_shows_layout "$work/srun.out"
[ "$(losses srun | wc -l)" = 40 ] || fail "srun: expected 40 steps in metrics.jsonl"

# --- 2. mpirun: the same losses ------------------------------------------------------------------
make_config mpirun max_steps 40
start=$(date +%s.%N)
mpirun -np "$ranks" "$ringlm" train "$work/mpirun.yaml" >"$work/mpirun.out" 2>&1 || { cat "$work/mpirun.out"; fail "mpirun failed"; }
launch_summary_shows_layout "$work/mpirun.out"
same_losses srun mpirun "mpirun -np $ranks"
echo "mpirun -np $ranks: the same $(losses mpirun | wc -l) losses in $(seconds_since "$start") s; final: $(losses mpirun | tail -n 1)"

# --- 3. sbatch --wait jobs/cpu.sbatch -------------------------------------------------------------
# The users' script as is; the command line overrides its resources to fit this node.
make_config sbatch max_steps 40
start=$(date +%s.%N)
CONFIG="$work/sbatch.yaml" RINGLM="$ringlm" sbatch --wait --quiet --ntasks-per-node="$ranks" --cpus-per-task=1 \
  --output="$work/sbatch.out" jobs/cpu.sbatch || fail "sbatch --wait jobs/cpu.sbatch failed"
launch_summary_shows_layout "$work/sbatch.out"
same_losses srun sbatch "sbatch jobs/cpu.sbatch"
echo "sbatch --wait jobs/cpu.sbatch: the same losses in $(seconds_since "$start") s"

# --- 4. preemption: scancel --signal=USR1 mid-run, requeue, resume -----------------------------
make_config preempt max_steps 40
start=$(date +%s.%N)
job=$(CONFIG="$work/preempt.yaml" RINGLM="$ringlm" sbatch --parsable --ntasks-per-node="$ranks" --cpus-per-task=1 \
  --output="$work/preempt.out" jobs/cpu.sbatch)
# Signal once a few steps are logged: the ranks' handlers are installed by then.
for ((i = 0; i < 600; i++)); do
  logged=$(grep -c '"loss"' "$work/runs/preempt/metrics.jsonl" 2>/dev/null || true)
  [ "${logged:-0}" -ge 3 ] && break
  sleep 0.05
done
[ "$i" -lt 600 ] || fail "job $job logged no 3 steps within 30 s"
scancel --signal=USR1 "$job"
# The job stops, requeues itself, waits out the requeue delay, resumes and completes.
state=""
for ((i = 0; i < 1200; i++)); do
  state=$(scontrol show job "$job" | grep -o 'JobState=[A-Z_]*' || true)
  restarts=$(scontrol show job "$job" | grep -o 'Restarts=[0-9]*' || true)
  [ "$state" = JobState=COMPLETED ] && [ "$restarts" != Restarts=0 ] && break
  case "$state" in JobState=FAILED | JobState=CANCELLED | JobState=TIMEOUT | JobState=NODE_FAIL) break ;; esac
  sleep 0.1
done
[ "$state" = JobState=COMPLETED ] && [ "$restarts" = Restarts=1 ] ||
  fail "job $job: $state $restarts after 120 s; expected COMPLETED after one requeue"
scontrol show job "$job" | grep -q 'ExitCode=0:0' || fail "job $job: exit code not 0:0"
stopped_at=$(sed -n 's/^signal 10 received: checkpointing at step \([0-9]*\) and stopping$/\1/p' "$work/preempt.out")
[ -n "$stopped_at" ] || fail "job $job: ringlm did not report SIGUSR1 (signal 10) and a checkpoint"
[ "$stopped_at" -lt 40 ] || fail "job $job: the signal arrived only after the last step"
checkpoint=$(printf '%s/runs/preempt/checkpoint-%07d.h5' "$work" "$stopped_at")
[ -f "$checkpoint" ] || fail "job $job: no $checkpoint after the signal"
grep -q "requeueing job $job" "$work/preempt.out" || fail "job $job: the job script did not requeue"
grep -q "^resuming from $checkpoint at step $stopped_at$" "$work/preempt.out" ||
  fail "job $job: the requeued run did not resume from $checkpoint"
same_losses srun preempt "the preempted and resumed job"
echo "preempted job $job: stopped after step $stopped_at with $(basename "$checkpoint"), requeued, resumed;" \
  "all 40 losses equal the uninterrupted run's (final $(losses preempt | tail -n 1)) in $(seconds_since "$start") s"

# --- 5. a dead rank under srun ------------------------------------------------------------------------
# A long run, so the kill surely lands mid-run; srun as jobs/ringlm_job.sh runs it.
make_config srun_kill max_steps 100000
srun --mpi=pmix -n "$ranks" "$ringlm" train "$work/srun_kill.yaml" >"$work/srun_kill.out" 2>&1 &
fault_and_time_exit KILL 1 "$work/srun_kill.yaml" "$work/runs/srun_kill/metrics.jsonl" $! 30 ||
  fail "SIGKILL of rank 1 under srun: $FAULT_RESULT"
echo "SIGKILL of rank 1 of $ranks (srun): $FAULT_RESULT"

# --- 6. a dead rank in a batch job: failed, not requeued -------------------------------------------------
make_config job_kill max_steps 100000
job=$(CONFIG="$work/job_kill.yaml" RINGLM="$ringlm" sbatch --parsable --ntasks-per-node="$ranks" --cpus-per-task=1 \
  --output="$work/job_kill.out" jobs/cpu.sbatch)
fault_and_time_exit KILL 2 "$work/job_kill.yaml" "$work/runs/job_kill/metrics.jsonl" srun 30 ||
  fail "SIGKILL of rank 2 in job $job: $FAULT_RESULT"
for ((i = 0; i < 300; i++)); do
  state=$(scontrol show job "$job" | grep -o 'JobState=[A-Z_]*' || true)
  [ "$state" = JobState=FAILED ] && break
  sleep 0.1
done
[ "$state" = JobState=FAILED ] || fail "job $job: $state 30 s after a rank was killed; expected FAILED"
scontrol show job "$job" | grep -q 'Restarts=0' || fail "job $job was requeued after a rank was killed"
grep -q "requeueing job" "$work/job_kill.out" && fail "job $job: the job script requeued after a rank was killed"
grep -q "ringlm job: ringlm failed (srun exit status [1-9][0-9]*): not requeued" "$work/job_kill.out" ||
  fail "job $job: the job script did not say it failed and is not requeued"
echo "SIGKILL of rank 2 in job $job (jobs/cpu.sbatch): $FAULT_RESULT; job FAILED, not requeued"

echo "PASS: slurm integration (S=$sp x D=$dp on $ranks ranks) in $(seconds_since "$test_start") s"
