# The model FLOP/s and MFU a training run reports, against the formula worked out here by hand
# for stories260K (dim 64, 5 layers, 8 heads, 4 KV heads, ffn 172, vocab 512, tied), on
# 2 ranks (D = 2) so the global batch and the ranks' summed peak both count:
#   flops per step = 6 * N_matmul * tokens + 6 * layers * T^2 * dim * rows
#   N_matmul = layers * (wq dim^2 + wk, wv 2 * dim * kv_dim + wo dim^2 + w1, w2, w3 3 * dim * ffn) + vocab * dim
#   mfu = (flops per step / step_s) / (peak_tflops * 1e12 * ranks)
source "$(dirname "$0")/common.sh" "$@"
make_corpus
write_config "$SCRATCH/run.yaml" "$SCRATCH/run" 3 <<< "peak_tflops: 0.002"
mpirun -np 2 "$RINGLM" train "$SCRATCH/run.yaml" > "$SCRATCH/run.log" 2>&1 || fail "training failed: $(tail -5 "$SCRATCH/run.log")"
grep -q "FLOP/s MFU [0-9.]*%" "$SCRATCH/run.log" || fail "no model FLOP/s and MFU on the progress line: $(grep '^step' "$SCRATCH/run.log" | head -1)"

# rows per step = D 2 x micro_batch_size 4 x gradient_accumulation_steps 2; T = sequence_len 128
awk -v dim=64 -v layers=5 -v kv_dim=32 -v ffn=172 -v vocab=512 -v rows=16 -v T=128 -v peak=0.002 -v ranks=2 '
    BEGIN { n = layers * (2 * dim * dim + 2 * dim * kv_dim + 3 * dim * ffn) + vocab * dim
            expected = 6 * n * rows * T + 6 * layers * T * T * dim * rows }
    /"step":/ {
        match($0, /"model_flops_per_s":[^,}]*/); flops = substr($0, RSTART + 20, RLENGTH - 20)
        match($0, /"step_s":[^,}]*/); seconds = substr($0, RSTART + 9, RLENGTH - 9)
        match($0, /"mfu":[^,}]*/); mfu = substr($0, RSTART + 6, RLENGTH - 6)
        error = (flops * seconds - expected) / expected
        if (error > 1e-6 || error < -1e-6) { printf "step line %d: %g FLOPs per step, expected %g\n", NR, flops * seconds, expected; bad = 1 }
        expected_mfu = flops / (peak * 1e12 * ranks)
        if (mfu == "" || (mfu - expected_mfu) / expected_mfu > 1e-6 || (expected_mfu - mfu) / expected_mfu > 1e-6) {
            printf "step line %d: mfu %s, expected %g\n", NR, mfu, expected_mfu; bad = 1 }
        lines++ }
    END { if (lines != 3) { printf "%d step lines, expected 3\n", lines; bad = 1 }; exit bad }
' "$SCRATCH/run/metrics.jsonl" || fail "model FLOP/s or MFU in metrics.jsonl disagree with the formula"
echo "PASS: model FLOP/s and MFU in metrics.jsonl match 6 N tokens + 6 L T^2 dim rows over 2 ranks"
