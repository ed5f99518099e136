#!/usr/bin/env bash
# CPU thread scaling in one run (issue 16): `ringlm bench` at each thread count, case and
# OpenBLAS build, reporting model FLOP/s against the f32 GEMM FLOP/s the same process measures
# at the same thread count (model/GEMM: how much of the speed of the GEMM the model runs, the
# packed one or OpenBLAS's sgemm, the whole step keeps; model/sgemm: against OpenBLAS's sgemm,
# the machine's BLAS, measured beside the packed GEMM where that runs); then, at SP_TOKENS
# tokens, S ranks x 1 thread against 1 rank x 1 and x S threads.
#
# usage: bench/threads.sh [BUILD_DIR] [OUT_DIR]
#   env THREADS ("1 2"), CASES ("2x1024 1x4096": batch x tokens; "" runs none), BLAS_BUILDS ("linked":
#       the OpenBLAS the binary links; or any of "pthread openmp serial": Debian's builds of
#       OpenBLAS 0.3.21, chosen at run time by LD_LIBRARY_PATH, which a RUNPATH cannot
#       override), SP_TOKENS (8192; 0 skips the SP part), SP_VARIANT (batch_zigzag),
#       SP_ROUNDS (1: rounds of the three SP points, alternating, so the host's drift between
#       rounds does not enter a ratio; each round's ratios are printed and their median),
#       WARMUP (1), STEPS (3), MODEL ("": ringlm bench's default, the peer model)
set -euo pipefail
build=${1:-build}
out=${2:-bench/results/threads}
thread_counts=${THREADS:-1 2}
cases=${CASES-2x1024 1x4096}
blas_builds=${BLAS_BUILDS:-linked}
sp_tokens=${SP_TOKENS:-8192}
sp_variant=${SP_VARIANT:-batch_zigzag}
model=${MODEL:-}
mkdir -p "$out"
csv="$out/threads_$(date +%Y%m%d_%H%M%S).csv"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores; OPENBLAS_CORETYPE ${OPENBLAS_CORETYPE:-unset}; OMP_WAIT_POLICY ${OMP_WAIT_POLICY:-unset}; $(date -Is)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# bench_point LABEL BLAS RANKS THREADS BATCH TOKENS [more ringlm bench options]
bench_point() {
  local label=$1 blas=$2 ranks=$3 threads=$4 batch=$5 tokens=$6; shift 6
  local library_path=${LD_LIBRARY_PATH:-}
  [ "$blas" = linked ] || library_path=/usr/lib/x86_64-linux-gnu/openblas-$blas
  # --bind-to none: Open MPI binds each rank to one core when np <= 2, which would put a
  # 2-thread rank's threads on one core (its sgemm then measures 1 thread's speed)
  # shellcheck disable=SC2086
  LD_LIBRARY_PATH=$library_path OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
    mpirun --bind-to none -np "$ranks" -x LD_LIBRARY_PATH -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
    "$build/ringlm" bench $model --seq-len "$tokens" --micro-batch "$batch" --threads "$threads" --sp "$ranks" \
    --warmup "${WARMUP:-1}" --steps "${STEPS:-3}" --csv "$csv" --label "$label" \
    --work-dir "${TMPDIR:-/tmp}/ringlm_bench_work" "$@" | sed -n 's/^  \(BLAS\|step\|model\|OpenBLAS\)/  \1/p'
}

for blas in $blas_builds; do
  for case in $cases; do
    for threads in $thread_counts; do
      echo "== $blas, $threads thread(s), $case"
      bench_point "$blas" "$blas" 1 "$threads" "${case%x*}" "${case#*x}"
    done
  done
done
if [ "$sp_tokens" -gt 0 ]; then
  for round in $(seq 1 "${SP_ROUNDS:-1}"); do
    for ranks_threads in 1x1 1x2 2x1; do
      ranks=${ranks_threads%x*}; threads=${ranks_threads#*x}
      echo "== SP round $round: $ranks rank(s) x $threads thread(s), 1x$sp_tokens, $sp_variant ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"
      bench_point "sp-${ranks}x${threads}-r$round" linked "$ranks" "$threads" 1 "$sp_tokens" --ring-attn-func "$sp_variant"
    done
  done
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def blas_threads(blas):  # "OpenBLAS 0.3.21 ... Haswell ... (openmp threads); ..." -> "openmp threads"
    return blas.split(" (", 1)[1].split(")", 1)[0] if " (" in blas else blas
print(f"\n{'label':<10} {'S':>2} {'thr':>3} {'case':<8} {'tok/s':>8} {'model GF/s':>10} {'GEMM GF/s':>10} {'model/GEMM':>11} "
      f"{'sgemm GF/s':>10} {'model/sgemm':>11} {'ring wait s':>11} {'step s':>7}  BLAS")
for r in rows:
    case = f"{int(r['micro_batch'])}x{r['sequence_len']}"
    model, gemm = float(r["model_flops_per_s"]), float(r["sgemm_flops_per_s"])
    # OpenBLAS's sgemm, measured beside ringlm's packed GEMM where that runs; else the GEMM is it
    sgemm = float(r.get("openblas_sgemm_flops_per_s") or 0) or gemm
    print(f"{r['label']:<10} {r['S']:>2} {r['threads']:>3} {case:<8} {float(r['tokens_per_s']):>8.1f} {model/1e9:>10.1f} "
          f"{gemm/1e9:>10.1f} {model/gemm:>10.2f}x {sgemm/1e9:>10.1f} {model/sgemm:>10.2f}x "
          f"{float(r['ring_wait_s']):>11.4f} {float(r['step_s_median']):>7.3f}  "
          f"{blas_threads(r['blas'])}{' + packed GEMM' if 'ringlm packed' in r['blas'] else ''}")
# SP ratios within each round (labels sp-<ranks>x<threads>-r<round>), then their medians
rounds = {}
for r in rows:
    if r["label"].startswith("sp-"):
        layout, round_name = r["label"][3:].rsplit("-", 1)
        rounds.setdefault(round_name, {})[layout] = float(r["tokens_per_s"])
ratios = {}
for round_name, points in rounds.items():
    if "1x1" not in points:
        continue
    print(f"\nSP round {round_name[1:]}, tokens/s against 1 rank x 1 thread: " +
          ", ".join(f"{layout} {value / points['1x1']:.2f}x" for layout, value in points.items()), end="")
    for layout, value in points.items():
        ratios.setdefault(layout, []).append(value / points["1x1"])
if len(rounds) > 1:
    print("\nSP medians over rounds: " + ", ".join(f"{layout} {statistics.median(r):.2f}x" for layout, r in ratios.items()))
print()
print(f"rows: {sys.argv[1]}")
PY
