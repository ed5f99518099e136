#!/usr/bin/env bash
# Scaling sweep with `ringlm bench`: one mpirun per point (S ranks, D = 1), one CSV row per
# point, then bench/plot.py adds parallel efficiency and draws the PNGs.
#
# usage: bench/sweep.sh [BUILD_DIR] [OUT_DIR]
#   env SP_DEGREES ("1 2 4"), SEQUENCE_LENS ("4096 8192 16384"), VARIANTS ("batch_zigzag"),
#       MICRO_BATCH (1), THREADS (1 per rank), WARMUP (1), STEPS (3),
#       MODEL ("--dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 344 --vocab 512": small, so
#       16K tokens fit the time on a laptop-sized machine), LAUNCH ("mpirun -np": the command
#       that starts N ranks when given N).
# On a cluster, inside an allocation (salloc / a batch script): LAUNCH="srun -n" bench/sweep.sh
# (jobs/*.sbatch are training jobs only: tests/app/jobs_configs_test.cpp checks each one requeues).
set -euo pipefail
build=${1:-build}
out=${2:-bench/results/sweep}
sp_degrees=${SP_DEGREES:-1 2 4}
sequence_lens=${SEQUENCE_LENS:-4096 8192 16384}
variants=${VARIANTS:-batch_zigzag}
model=${MODEL:---dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 344 --vocab 512}
launch=${LAUNCH:-mpirun -np}
mkdir -p "$out"
csv="$out/sweep.csv"
rm -f "$csv"
# Ranks share cores here (oversubscribed): let idle MPI ranks yield instead of spinning.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=1 OMP_NUM_THREADS=${THREADS:-1} OPENBLAS_NUM_THREADS=${THREADS:-1}
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores"
  echo "date: $(date -Is); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}; threads per rank ${THREADS:-1}"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"
for variant in $variants; do
  for sp in $sp_degrees; do
    for len in $sequence_lens; do
      echo "== S=$sp T=$len $variant"
      # shellcheck disable=SC2086
      $launch "$sp" "$build/ringlm" bench $model --seq-len "$len" --sp "$sp" --ring-attn-func "$variant" \
        --micro-batch "${MICRO_BATCH:-1}" --threads "${THREADS:-1}" --warmup "${WARMUP:-1}" --steps "${STEPS:-3}" \
        --work-dir "${TMPDIR:-/tmp}/ringlm_bench_work" --csv "$csv" --label "S${sp}-T${len}-${variant}"
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"

/usr/bin/python3 "$(dirname "$0")/plot.py" "$csv" "$out"
