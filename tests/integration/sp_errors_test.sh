# Invalid sequence-parallel settings under `mpirun -np 4`: every rank sees the same bad value,
# so rank 0 says it once (one "ringlm: error" line, not four), every rank exits non-zero, and
# the run ends within seconds (`timeout 20`: a rank left waiting in a collective would hang).
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun -np 4)
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi

# case NAME 'EXPECTED MESSAGE' 'YAML LINE': stories260K has 8 query heads and 4 KV heads.
cases=0
case_() {
    local name=$1 expected=$2 line=$3
    write_config "$SCRATCH/$name.yaml" "$SCRATCH/$name" 2 <<< "$line"
    local start=$SECONDS status=0
    timeout 20 "${MPIRUN[@]}" "$RINGLM" train "$SCRATCH/$name.yaml" > "$SCRATCH/$name.out" 2> "$SCRATCH/$name.err" \
        || status=$?
    [ $status -ne 0 ] || fail "$name: accepted (exit 0)"
    [ $status -ne 124 ] || fail "$name: still running after 20 s (a hang): $(cat "$SCRATCH/$name.err")"
    grep -qF -- "$expected" "$SCRATCH/$name.err" || fail "$name: expected '$expected' in: $(cat "$SCRATCH/$name.err")"
    local count
    count=$(grep -c "ringlm: error" "$SCRATCH/$name.err" || true)
    [ "$count" -eq 1 ] || fail "$name: $count error lines, expected one (rank 0's): $(cat "$SCRATCH/$name.err")"
    [ ! -e "$SCRATCH/$name" ] || fail "$name: wrote its output_dir"
    echo "refused $name in $((SECONDS - start)) s, exit $status: $(grep "ringlm: error" "$SCRATCH/$name.err")"
    cases=$((cases + 1))
}

case_ sp_zero "sequence_parallel_degree" "sequence_parallel_degree: 0"
case_ sp_not_dividing "sequence_parallel_degree 3 must divide the 4 ranks (try 1, 2 or 4)" "sequence_parallel_degree: 3"
case_ heads_k_stride "heads_k_stride 3 must divide the model's 4 KV heads" \
    "$(printf 'sequence_parallel_degree: 4\nring_attn_func: varlen_llama3\nheads_k_stride: 3')"
case_ ring_attn_func "batch_ring, batch_zigzag, batch_stripe, varlen_llama3" \
    "$(printf 'sequence_parallel_degree: 2\nring_attn_func: ring_flash')"
echo "PASS: $cases invalid sequence-parallel settings refused once, non-zero, without a hang"
