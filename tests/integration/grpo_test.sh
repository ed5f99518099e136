# `ringlm grpo` end to end under `mpirun -np 2` (S = 2: one rank runs the reward program, both
# score their half of every sequence): a short run with a built-in reward and a reward_command
# writes its metrics; then a reward program that crashes, hangs past reward_timeout, or answers
# garbage stops the run on every rank within seconds, non-zero, with one line naming the program.
source "$(dirname "$0")/common.sh" "$@"
MPIRUN=(mpirun -np 2)
# happy.py: the number of times each completion says "happy".
cat > "$SCRATCH/happy.py" <<'PY'
import json, sys
for line in sys.stdin:
    print(json.loads(line)["completion"].lower().count("happy"))
PY
grpo_config() {  # grpo_config FILE OUTPUT_DIR REWARD_COMMAND TIMEOUT
    write_grpo_config "$1" "$2" 2 <<YAML
trl:
  num_generations: 4
  max_completion_length: 16
  beta: 0.04
  reward_funcs: [regex_format, length]
  reward_command: $3
  reward_timeout: $4
YAML
}

grpo_config "$SCRATCH/good.yaml" "$SCRATCH/good" "python3 $SCRATCH/happy.py" 30
"${MPIRUN[@]}" "$RINGLM" grpo "$SCRATCH/good.yaml" > "$SCRATCH/stdout" 2> "$SCRATCH/stderr" ||
    fail "grpo run failed: $(cat "$SCRATCH/stderr")"
[ "$(grep -c '"reward"' "$SCRATCH/good/metrics.jsonl")" -eq 2 ] || fail "expected 2 metrics records: $(cat "$SCRATCH/good/metrics.jsonl")"
grep -q '"rewards/reward_command"' "$SCRATCH/good/metrics.jsonl" || fail "no per-function reward in metrics.jsonl"
grep -q "grpo steps 1..2: mean reward" "$SCRATCH/stdout" || fail "no summary line: $(cat "$SCRATCH/stdout")"
echo "ran: $(tail -1 "$SCRATCH/stdout")"

check_bad() {  # check_bad NAME COMMAND TIMEOUT EXPECTED
    grpo_config "$SCRATCH/$1.yaml" "$SCRATCH/$1" "$2" "$3"
    local start=$SECONDS
    if timeout 120 "${MPIRUN[@]}" "$RINGLM" grpo "$SCRATCH/$1.yaml" > "$SCRATCH/stdout" 2> "$SCRATCH/stderr"; then
        fail "$1: a bad reward program was accepted"
    fi
    local seconds=$((SECONDS - start))
    # mpirun adds its own lines about the exit code; ringlm's is the one that starts "ringlm: error:".
    local message
    message=$(grep "^ringlm: error:" "$SCRATCH/stderr" || true)
    [ -n "$message" ] || fail "$1: no 'ringlm: error:' line in: $(cat "$SCRATCH/stderr")"
    [ "$(echo "$message" | wc -l)" -eq 1 ] || fail "$1: the error was printed more than once: $message"
    grep -qF -- "$4" <<< "$message" || fail "$1: expected '$4' in: $message"
    [ "$seconds" -lt 60 ] || fail "$1: took ${seconds}s to stop"
    echo "stopped ($1) in ${seconds}s: $message"
}
check_bad crash "exit 3" 30 "reward_command 'exit 3': exited with status 3"
check_bad hang "sleep 100" 2 "reward_command 'sleep 100': no answer within 2 s"
check_bad garbage "echo not-a-number" 30 "output line 1 is 'not-a-number', not a number"
echo "PASS: grpo runs; crash, hang and garbage reward programs stop every rank with one clear line"
