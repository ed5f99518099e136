#!/usr/bin/env bash
# Starts a private single-node Slurm on this machine for tests: munged, slurmctld and slurmd
# from Debian's slurm-wlm, every file (key, config, state, spool, logs, sockets, pids) under
# DIR, on two free ports, so it touches nothing in /etc or /var and can run beside another.
#
#   tests/slurm/slurm_up.sh DIR      then   source DIR/env.sh   (SLURM_CONF for sinfo/srun/sbatch)
#   tests/slurm/slurm_down.sh DIR    stops exactly the daemons started here (pids in DIR/*.pid)
#
# Needs root (slurmd starts jobs as their user) and the packages slurm-wlm and munge
# (scripts/deps.sh installs them). Any failure stops the daemons already started and exits 1
# with one line saying why.
set -euo pipefail

dir=${1:?usage: slurm_up.sh DIR (an empty or new folder for Slurm\'s files)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cpus=${SLURM_TEST_CPUS:-4}   # slots the node claims, whatever the machine has: 4 ranks on 2 cores

fail() {
  echo "slurm_up: $*" >&2
  "$here/slurm_down.sh" "$dir" >/dev/null 2>&1 || true
  exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (slurmd launches tasks as the submitting user); run the test as root, as CI does"
for program in munged slurmctld slurmd sinfo srun sbatch scancel scontrol python3; do
  command -v "$program" >/dev/null ||
    fail "'$program' not found: install Debian's slurm-wlm and munge (scripts/deps.sh does: make deps)"
done

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
# munged refuses keys and sockets in folders others can write to.
chmod 700 "$dir" "$dir/munge"

# Two free TCP ports, so a second Slurm (another checkout's test) does not collide with this one.
read -r ctld_port slurmd_port < <(python3 -c '
import socket
held = [socket.socket() for _ in range(2)]
for s in held: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in held])')

# --- munge: a fresh key, its own socket -----------------------------------------------------
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"
# -F: stay in the foreground, so $! is the daemon itself; --force: root owning the key is fine.
munged -F --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pidfile" --seed-file="$dir/munge/munged.seed" \
  --log-file="$dir/log/munged.log" >>"$dir/log/munged.out" 2>&1 &
echo $! >"$dir/munged.pid"

# --- slurm.conf -------------------------------------------------------------------------------
cat >"$dir/slurm.conf" <<CONF
# Written by tests/slurm/slurm_up.sh: a throwaway single-node cluster for tests.
ClusterName=ringlm-test
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$socket,cred_expire=5
# Debian's OpenMPI speaks PMIx only; with pmi2 MPI_Init fails under srun.
MpiDefault=pmix
# No cgroups: track processes by parentage, bind nothing (works in containers).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
# Try pending jobs every second (default 60 s): a requeued job restarts as soon as it may.
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Believe the node line below, not the hardware: CPUs=$cpus lets $cpus tasks run on fewer cores
# (without it srun -n 4 queues forever on a 2-core machine).
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=600
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/state/slurmctld.pidfile
SlurmdPidFile=$dir/spool/slurmd.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

cat >"$dir/env.sh" <<ENV
# source this to talk to the Slurm started by tests/slurm/slurm_up.sh $dir
export SLURM_CONF=$dir/slurm.conf
ENV
export SLURM_CONF="$dir/slurm.conf"

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll every 0.05 s
  local seconds=$1 what=$2
  shift 2
  local tries=$((seconds * 20))
  for ((i = 0; i < tries; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  fail "$what did not come up within ${seconds} s; see $dir/log/"
}

wait_for 10 "munged (socket $socket)" test -S "$socket"

# -D: foreground, so $! is the daemon; -i: ignore any old state; -N: the node name is fixed,
# so the config does not depend on this machine's hostname.
slurmctld -D -i -f "$dir/slurm.conf" >>"$dir/log/slurmctld.out" 2>&1 &
echo $! >"$dir/slurmctld.pid"
slurmd -D -N localhost -f "$dir/slurm.conf" >>"$dir/log/slurmd.out" 2>&1 &
echo $! >"$dir/slurmd.pid"

node_idle() { [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ]; }
wait_for 20 "the node (sinfo state idle)" node_idle
echo "slurm_up: node localhost idle with $cpus CPUs; SLURM_CONF=$SLURM_CONF"
