#!/usr/bin/env bash
# Peer comparison (issue 8): the same Llama training step (dim 512, 8 layers, 8 heads, 2 KV
# heads, ffn 1376, vocab 4096, tied embeddings; forward + backward + clipping + AdamW, f32) in
# ringlm (`ringlm bench`) and in PyTorch (bench/peers/pytorch_peer.py), same batch, same
# thread count, one after the other in this one run, for each BLAS core type asked.
#
# usage: bench/peers/compare.sh [BUILD_DIR] [OUT_DIR]
#   env THREADS (1), STEPS (5 measured, median), WARMUP (2), CORETYPES ("auto SkylakeX";
#   auto = OPENBLAS_CORETYPE unset, OpenBLAS picks), CASES ("2x1024 1x4096": batch x tokens)
# Memory: both processes are measured the same way, by /usr/bin/time -v "Maximum resident set
# size" (whole process: weights, optimizer state, activations, runtime); ringlm's allocator
# peak (tensors only) is printed too.
set -euo pipefail
build=${1:-build}
out=${2:-bench/results/peers}
threads=${THREADS:-1}
steps=${STEPS:-5}
warmup=${WARMUP:-2}
coretypes=${CORETYPES:-auto SkylakeX}
cases=${CASES:-2x1024 1x4096}
python=/usr/bin/python3   # Debian's python3-torch lives there, not in a pyenv
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
rows="$out/compare_$(date +%Y%m%d_%H%M%S).tsv"
printf 'coretype\tcase\timpl\ttokens_per_s\tstep_s_median\tmax_rss_bytes\tallocator_peak_bytes\tmodel_flops_per_s\tsgemm_flops_per_s\n' > "$rows"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores; threads $threads; $(date -Is)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
for coretype in $coretypes; do
  if [ "$coretype" = auto ]; then unset OPENBLAS_CORETYPE; else export OPENBLAS_CORETYPE=$coretype; fi
  for case in $cases; do
    batch=${case%x*}; seq=${case#*x}
    scratch=$(mktemp -d); csv="$scratch/ringlm.csv"; timing="$scratch/time.txt"; peer_json="$scratch/peer.json"
    /usr/bin/time -v -o "$timing" "$build/ringlm" bench --seq-len "$seq" --micro-batch "$batch" --threads "$threads" \
      --warmup "$warmup" --steps "$steps" --csv "$csv" --label "$coretype-$case" --work-dir "${TMPDIR:-/tmp}/ringlm_bench_work" >&2
    $python - "$csv" "$timing" "$coretype" "$case" >> "$rows" <<'PY'
import csv, re, sys
row = next(csv.DictReader(open(sys.argv[1])))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1)) * 1024
print("\t".join([sys.argv[3], sys.argv[4], "ringlm", row["tokens_per_s"], row["step_s_median"], str(rss),
                 row["peak_mem_bytes_per_rank"], row["model_flops_per_s"], row["sgemm_flops_per_s"]]))
PY
    /usr/bin/time -v -o "$timing" $python "$here/pytorch_peer.py" --batch "$batch" --seq-len "$seq" \
      --threads "$threads" --warmup "$warmup" --steps "$steps" > "$peer_json"
    cat "$peer_json" >&2
    $python - "$peer_json" "$timing" "$coretype" "$case" >> "$rows" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1)) * 1024
print("\t".join([sys.argv[3], sys.argv[4], "pytorch", f"{r['tokens_per_s']:.2f}", f"{r['step_s_median']:.6f}",
                 str(rss), "", "", ""]))
PY
    rm -rf "$scratch"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Side by side, with the targets of issue 8.
$python - "$rows" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
gib = 1024.0 ** 3
print(f"\n{'core type':<10} {'case':<7} {'ringlm tok/s':>12} {'torch tok/s':>12} {'ratio':>6} "
      f"{'ringlm RSS':>10} {'torch RSS':>10} {'ratio':>6} {'alloc peak':>10} {'model GF/s':>10} {'sgemm GF/s':>10} {'model/sgemm':>11}")
for ours in (r for r in rows if r["impl"] == "ringlm"):
    peer = next(r for r in rows if r["impl"] == "pytorch" and r["coretype"] == ours["coretype"] and r["case"] == ours["case"])
    speed = float(ours["tokens_per_s"]) / float(peer["tokens_per_s"])
    memory = float(ours["max_rss_bytes"]) / float(peer["max_rss_bytes"])
    model, sgemm = float(ours["model_flops_per_s"]), float(ours["sgemm_flops_per_s"])
    print(f"{ours['coretype']:<10} {ours['case']:<7} {float(ours['tokens_per_s']):>12.1f} {float(peer['tokens_per_s']):>12.1f} "
          f"{speed:>5.2f}x {float(ours['max_rss_bytes'])/gib:>7.2f}GiB {float(peer['max_rss_bytes'])/gib:>7.2f}GiB {memory:>5.2f}x "
          f"{float(ours['allocator_peak_bytes'])/gib:>7.2f}GiB {model/1e9:>10.1f} {sgemm/1e9:>10.1f} {model/sgemm:>10.2f}x")
print("\ntargets: 2x1024: tok/s ratio >= 1.2 and model/sgemm >= 0.75; 1x4096: tok/s ratio >= 2 and RSS ratio <= 0.3")
print(f"rows: {sys.argv[1]}")
PY
