# Sourced by the jobs/*.sbatch scripts (not submitted itself): checks, thread settings, and
# ringlm_train, which runs ringlm as one srun job step and requeues the job when ringlm stopped
# early on a signal. Submit the scripts from the repository root (sbatch runs a copy of the
# script from the folder it was submitted in, so jobs/ and build/ are found from there).
#
# Preemption and time limits, end to end:
#   --signal=USR1@120  Slurm sends SIGUSR1 to every task 120 s before the time limit (without
#                      the B: prefix it goes to the job steps, not to this shell);
#   ringlm             every rank finishes its current step, rank 0 writes
#                      output_dir/checkpoint-NNNNNNN.h5, all ranks exit 0;
#   ringlm_train       sees ringlm's "signal N received: checkpointing" line and runs
#                      `scontrol requeue`, so the job goes back to the queue;
#   --requeue          lets Slurm requeue the job (also after a node failure or preemption,
#                      where Slurm sends SIGTERM, which ringlm treats like SIGUSR1);
#   resume_from_checkpoint: auto   the requeued job continues from the newest checkpoint.
# --open-mode=append keeps the output of every run of the job in one file.
#
# Failures are never requeued: only a run that exited 0 after its "signal N received:
# checkpointing" line is. A rank that dies (killed, out of memory, a crash) ends the job step
# within seconds: Slurm's PMIx plugin (--mpi=pmix) SIGKILLs the step when a rank's connection
# drops. (Not --kill-on-bad-exit: srun would then end the step with SIGTERM, which ringlm's
# ranks take as a preemption request while they wait on the dead rank, and SIGKILL only after
# the site's KillWait, 30 s by default.) An error or a hang (ringlm's watchdog,
# collective_timeout_s) aborts every rank. Either way srun exits non-zero, the job fails, and a
# person decides.

# The program: build/ringlm unless RINGLM names another build (RINGLM=build-cuda/ringlm sbatch ...).
RINGLM=${RINGLM:-build/ringlm}
if [ ! -x "$RINGLM" ]; then
  echo "ringlm job: $RINGLM not found in $(pwd): build it (make build) and submit from the repository root" >&2
  exit 1
fi

# One OpenMP/BLAS thread per allocated core of each rank (a config's `threads:` overrides).
# Slurm 22.05+ no longer passes --cpus-per-task from sbatch to srun by itself:
# SRUN_CPUS_PER_TASK does.
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
export OPENBLAS_NUM_THREADS=$OMP_NUM_THREADS
export SRUN_CPUS_PER_TASK=${SLURM_CPUS_PER_TASK:-1}

# ringlm_train CONFIG [SRUN_OPTION...]: one training run of CONFIG over the job's tasks.
# Returns srun's status. Requeues the job when ringlm stopped on a signal before the end with a
# checkpoint and exit 0 (at most RINGLM_MAX_REQUEUES times, default 20, so a job preempted over
# and over does not cycle forever); never after a failure.
ringlm_train() {
  local config=$1
  shift
  if [ ! -f "$config" ]; then
    echo "ringlm job: config '$config' not found (paths are relative to $(pwd))" >&2
    return 1
  fi
  local output
  output=$(mktemp "${TMPDIR:-/tmp}/ringlm-job-${SLURM_JOB_ID:-local}.XXXXXX")
  # Rank 0's stdout goes to the job's output file as usual and, through tee, to $output.
  local status=0
  srun --mpi=pmix "$@" "$RINGLM" train "$config" | tee "$output" || status=${PIPESTATUS[0]}
  # The trainer (src/train/trainer.cpp) prints this line when SIGUSR1/SIGTERM stopped it.
  if [ "$status" = 0 ] && grep -q "^signal [0-9]* received: checkpointing" "$output"; then
    local restarts=${SLURM_RESTART_COUNT:-0}
    if [ -n "${SLURM_JOB_ID:-}" ] && [ "$restarts" -lt "${RINGLM_MAX_REQUEUES:-20}" ]; then
      echo "ringlm job: stopped early with a checkpoint; requeueing job $SLURM_JOB_ID (restart $((restarts + 1)))"
      rm -f "$output"
      scontrol requeue "$SLURM_JOB_ID"
      return 0
    fi
    echo "ringlm job: stopped early with a checkpoint; not requeued (restart count $restarts);" \
      "submit the job again to resume" >&2
  fi
  if [ "$status" != 0 ]; then
    echo "ringlm job: ringlm failed (srun exit status $status): not requeued; the lines above say which rank and why" >&2
  fi
  rm -f "$output"
  return "$status"
}
