# Sourced by tests that fault one rank of a running job (tests/integration/hang_and_dead_rank_test.sh,
# tests/slurm/slurm_integration_test.sh): finds the ranks of a `ringlm train CONFIG` job, signals
# one, and times how long until the launcher and every rank are gone.

now() { date +%s.%N; }
# Seconds from $1 to $2, one decimal.
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# alive PID: the process exists and is not a zombie (a zombie has exited; its parent may not
# have reaped it yet).
alive() { [ -e "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null)" != Z ]; }

# rank_pids CONFIG: "RANK PID" per ringlm process of `ringlm train CONFIG` (the launcher, whose
# command line names CONFIG too, is not a ringlm binary). The rank comes from the environment
# both mpirun and srun --mpi=pmix give the ranks (PMIX_RANK).
rank_pids() {
    local pid rank
    for pid in $(pgrep -f -- "train $1\$" || true); do
        [ "$(basename "$(readlink "/proc/$pid/exe" 2> /dev/null)")" = ringlm ] || continue
        rank=$(tr '\0' '\n' < "/proc/$pid/environ" 2> /dev/null | sed -n 's/^PMIX_RANK=//p')
        [ -n "$rank" ] && echo "$rank $pid"
    done
}

# fault_and_time_exit SIGNAL RANK CONFIG METRICS LAUNCHER LIMIT_S
# Waits for 3 steps in METRICS, sends SIGNAL (KILL, STOP) to rank RANK of the job of CONFIG,
# then waits (up to 60 s) for the launcher and every rank to be gone. LAUNCHER: the pid of the
# mpirun or srun this shell started (its exit status is then part of the verdict), or "srun"
# to find the srun of a batch job. Sets FAULT_RESULT to one line with the measured seconds and
# the launcher's exit status; returns 1 when the job did not end within LIMIT_S or the launcher
# exited 0. Whatever happens, leaves no process of the job behind (a stopped rank is continued
# and killed).
fault_and_time_exit() {
    local signal=$1 rank=$2 config=$3 metrics=$4 launcher=$5 limit=$6
    local i logged=0 pids victim="" pid status=0 start elapsed own=1
    for ((i = 0; i < 1200; i++)); do
        logged=$(grep -c '"loss"' "$metrics" 2> /dev/null || true)
        [ "${logged:-0}" -ge 3 ] && break
        [ "$launcher" = srun ] || alive "$launcher" || break
        sleep 0.05
    done
    if [ "$launcher" = srun ]; then
        own=0
        launcher=$(pgrep -f -- "^srun .*train $config\$" | head -n 1 || true)
        [ -n "$launcher" ] || launcher=0
    fi
    pids=$(rank_pids "$config")
    victim=$(awk -v r="$rank" '$1 == r { print $2 }' <<< "$pids")
    if [ "${logged:-0}" -lt 3 ] || [ -z "$victim" ] || [ "$(wc -l <<< "$pids")" -ne 4 ]; then
        FAULT_RESULT="the job did not run 3 steps with 4 ranks within 60 s (ranks: $(tr '\n' ' ' <<< "$pids"))"
        if [ "$own" = 1 ]; then kill -KILL "$launcher" 2> /dev/null || true; fi
        kill -KILL $(awk '{ print $2 }' <<< "$pids") 2> /dev/null || true
        if [ "$own" = 1 ]; then wait "$launcher" 2> /dev/null || true; fi
        return 1
    fi
    start=$(now)
    kill "-$signal" "$victim"
    local any=1
    for ((i = 0; i < 600; i++)); do
        any=0
        alive "$launcher" && any=1
        for pid in $(awk '{ print $2 }' <<< "$pids"); do alive "$pid" && any=1; done
        [ "$any" = 0 ] && break
        sleep 0.1
    done
    elapsed=$(seconds_between "$start" "$(now)")
    local outcome="all 4 ranks gone $elapsed s after SIG$signal of rank $rank (pid $victim)"
    [ "$any" = 0 ] || outcome="the job still ran $elapsed s after SIG$signal of rank $rank (pid $victim): killed it"
    # Nothing left behind, whatever happened above (a job still running after 60 s: a hang).
    if [ "$own" = 1 ] && alive "$launcher"; then kill -KILL "$launcher" 2> /dev/null || true; fi
    for pid in $(awk '{ print $2 }' <<< "$pids"); do
        if alive "$pid"; then
            kill -CONT "$pid" 2> /dev/null || true
            kill -KILL "$pid" 2> /dev/null || true
        fi
    done
    if [ "$own" = 1 ]; then wait "$launcher" || status=$?; else status="not ours (a batch job's srun)"; fi
    FAULT_RESULT="$outcome, exit status $status"
    [ "$any" = 0 ] || return 1
    awk -v e="$elapsed" -v l="$limit" 'BEGIN { exit !(e <= l) }' || return 1
    [ "$status" != 0 ]
}
