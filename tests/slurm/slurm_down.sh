#!/usr/bin/env bash
# Stops the daemons tests/slurm/slurm_up.sh DIR started, by the pids it wrote (DIR/*.pid),
# and nothing else: a pid is signalled only while its process still has the expected name.
# Safe to call twice, or after a partial start.
set -uo pipefail

dir=${1:?usage: slurm_down.sh DIR (the folder given to slurm_up.sh)}

# Jobs still running (a test that failed half-way) are cancelled first: their slurmstepd
# processes would outlive slurmd.
if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ]; then
  jobs=$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)
  if [ -n "$jobs" ]; then
    # shellcheck disable=SC2086
    SLURM_CONF="$dir/slurm.conf" scancel --signal=KILL --full $jobs 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.05
    done
  fi
fi

# Exited counts as stopped even before anyone reaps it: slurm_up.sh's daemons are orphans, and
# where PID 1 is not a real init a zombie stays (state Z in /proc/PID/stat) until it does.
running() { [ -e "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# slurmd first, then the controller, then munge, which both use.
for daemon in slurmd slurmctld munged; do
  pid_file="$dir/$daemon.pid"
  [ -f "$pid_file" ] || continue
  pid=$(cat "$pid_file")
  # /proc/PID/comm is the program name cut to 15 characters.
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$daemon" ]; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      running "$pid" || break
      sleep 0.05
    done
    if running "$pid"; then
      echo "slurm_down: $daemon (pid $pid) ignored SIGTERM for 5 s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$pid_file"
done
