#!/usr/bin/env bash
# Runs every fuzz target of BUILD (default build-fuzz) in turn: first all its seeds
# (fuzz/corpus/<target>/, regression inputs included), then new inputs for SECONDS seconds or
# RUNS executions. New interesting inputs go to BUILD/corpus/<target>/ (kept between runs),
# never into the source tree; a crash, sanitizer report, leak, timeout or FUZZ_CHECK failure
# leaves its input in BUILD/fuzz-artifacts/ and makes this script fail. Prints one line per
# target: executions, executions per second, coverage (edges) and corpus size.
#   fuzz/run.sh [BUILD] [SECONDS] [RUNS] [TARGETS...]     (RUNS > 0 overrides SECONDS)
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-build-fuzz}" && pwd)"
seconds="${2:-20}"
runs="${3:-0}"
shift $(( $# < 3 ? $# : 3 ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for binary in "$build"/fuzz/*_fuzz; do targets+=("$(basename "$binary")"); done
fi

# Leaks are bugs; the suppressions name third-party frames only (see the file).
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export LSAN_OPTIONS="suppressions=$source_dir/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
limit=(-max_total_time="$seconds")
[ "$runs" -gt 0 ] && limit=(-runs="$runs")

mkdir -p "$build/fuzz-artifacts"
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$build/corpus/$target"
  log="$build/fuzz-artifacts/$target.log"
  # -timeout: one input over 10 s is a hang; -rss_limit_mb: a size read from the input must
  # not make the parser allocate gigabytes. -fork would hide a leak's input: not used.
  if "$build/fuzz/$target" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build/fuzz-artifacts/$target-" \
       "$build/corpus/$target" "$source_dir/fuzz/corpus/$target" >"$log" 2>&1; then
    executions=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log")
    speed=$(awk '/stat::average_exec_per_sec:/ {print $2}' "$log")
    coverage=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -o '[0-9]*')
    corpus=$(grep -Eo 'corp: [0-9]+/[0-9a-zA-Z]+' "$log" | tail -1 | cut -d' ' -f2)
    printf 'fuzz: %-26s ok   %10s executions %7s exec/s  coverage %5s  corpus %s\n' \
      "$target" "$executions" "$speed" "$coverage" "$corpus"
  else
    printf 'fuzz: %-26s FAILED (log: %s)\n' "$target" "$log"
    grep -E 'ERROR|FUZZ_CHECK|runtime error|what\(\)|SUMMARY|Test unit written' "$log" | head -10 || true
    failed+=("$target")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}"; exit 1; }
