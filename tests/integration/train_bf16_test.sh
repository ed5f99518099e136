# Training with bf16 matmuls (`bf16: true`) through the CLI:
# - the checkpoint stores the f32 master weights (the bf16 copy is never written);
# - resume: 10 steps straight, versus the step-5 checkpoint resumed to 10: identical losses,
#   bit for bit (the bf16 copy is remade from the loaded master weights);
# - the losses stay within 1e-2 relative of the same run in f32;
# - GRPO with bf16: the reference model is scored with the policy's bf16 matmuls, so the KL of
#   step 1 (policy == reference) is exactly 0 (it was ~1e-4 with an f32 reference).
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

write_config "$SCRATCH/straight.yaml" "$SCRATCH/straight" 10 <<< $'save_steps: 5\nbf16: true'
"$RINGLM" train "$SCRATCH/straight.yaml" > "$SCRATCH/straight.log"
grep -q "^bf16: true" "$SCRATCH/straight/config.yaml" || fail "the saved config lost bf16: true"

if command -v h5dump > /dev/null; then
    types=$(h5dump -H "$SCRATCH/straight/checkpoint-0000005.h5" | grep -A1 'DATASET "/\?[a-z_.0-9]*"' |
            grep -o 'H5T_[A-Z_0-9]*' | sort -u | tr '\n' ' ')
    [ "$types" = "H5T_IEEE_F32LE " ] || fail "checkpoint datasets are '$types', expected f32 only"
    echo "PASS: the bf16 run's checkpoint holds f32 datasets only"
fi

mkdir "$SCRATCH/resumed"
cp "$SCRATCH/straight/checkpoint-0000005.h5" "$SCRATCH/resumed/"
write_config "$SCRATCH/resumed.yaml" "$SCRATCH/resumed" 10 <<< $'resume_from_checkpoint: auto\nbf16: true'
"$RINGLM" train "$SCRATCH/resumed.yaml" > "$SCRATCH/resumed.log"
grep -q "resuming from .*checkpoint-0000005.h5 at step 5" "$SCRATCH/resumed.log" || fail "did not resume at step 5"
diff <(losses "$SCRATCH/straight/metrics.jsonl" | tail -5) <(losses "$SCRATCH/resumed/metrics.jsonl") \
    || fail "resumed bf16 losses differ from the uninterrupted run"
echo "PASS: bf16 steps 6-10 resumed from the step-5 checkpoint match bit for bit"

write_config "$SCRATCH/f32.yaml" "$SCRATCH/f32" 10 <<< "save_steps: 0"
"$RINGLM" train "$SCRATCH/f32.yaml" > /dev/null
paste <(losses "$SCRATCH/straight/metrics.jsonl") <(losses "$SCRATCH/f32/metrics.jsonl") |
    awk '{ e = ($1 - $2) / $2; if (e < 0) e = -e; if (e > worst) worst = e; if (e > 1e-2) bad = 1 }
         END { printf "bf16 vs f32 losses over 10 steps: worst relative difference %.2e\n", worst; exit bad }' \
    || fail "bf16 losses differ from f32 by more than 1e-2"
echo "PASS: bf16 losses within 1e-2 of f32"

write_grpo_config "$SCRATCH/grpo.yaml" "$SCRATCH/grpo" 1 <<'YAML'
bf16: true
trl:
  num_generations: 4
  max_completion_length: 16
  beta: 0.04
  reward_funcs: [length]
YAML
mpirun -np 2 "$RINGLM" grpo "$SCRATCH/grpo.yaml" > "$SCRATCH/grpo.log" 2>&1 || fail "bf16 GRPO failed: $(tail -3 "$SCRATCH/grpo.log")"
kl=$(grep -o '"kl":[^,}]*' "$SCRATCH/grpo/metrics.jsonl" | head -1 | cut -d: -f2)
[ "$kl" = "0.0" ] || [ "$kl" = "0" ] || fail "bf16 GRPO step 1: KL to the reference is $kl, expected exactly 0"
echo "PASS: bf16 GRPO step 1 KL to the reference is exactly 0"
