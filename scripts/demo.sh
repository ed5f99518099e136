#!/usr/bin/env bash
# `make run`: the demo. Tokenizes the bundled Austen novels, shows what the pretrained
# TinyStories model writes, fine-tunes it on Austen (progress line per 10 steps, held-out
# loss before and after), and shows what it writes afterwards.
set -euo pipefail
BUILD=${1:-build}
RINGLM="$BUILD/ringlm"
CONFIG=jobs/configs/demo.yaml
PROMPT="It is a truth universally acknowledged"
RANKS=2
# One thread per rank: the two ranks share this machine's cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MPIRUN=(mpirun -np "$RANKS")
# Open MPI refuses root unless told, and more ranks than cores unless allowed.
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi
if [ "$(nproc)" -lt "$RANKS" ]; then MPIRUN+=(--oversubscribe); fi

echo "== 1. tokenize data/austen/*.txt (one document per paragraph) -> data/austen.h5"
if [ ! -f data/austen.h5 ]; then
    "$RINGLM" prepare --tokenizer data/stories260K/tok512.bin --split paragraphs --output data/austen.h5 data/austen
else
    echo "data/austen.h5 exists (delete it to tokenize again)"
fi

echo
echo "== 2. the pretrained TinyStories model, greedy, before fine-tuning"
"$RINGLM" generate --model data/stories260K/stories260K.bin --tokenizer data/stories260K/tok512.bin \
    --prompt "$PROMPT" --max-new-tokens 60

echo
echo "== 3. fine-tune on Austen ($CONFIG), sequence-parallel on $RANKS ranks"
rm -rf out/demo
"${MPIRUN[@]}" "$RINGLM" train "$CONFIG"

echo
echo "== 4. the fine-tuned model, greedy, same prompt"
checkpoint=$(ls out/demo/checkpoint-*.h5 | tail -1)
"$RINGLM" generate --model "$checkpoint" --tokenizer data/stories260K/tok512.bin --prompt "$PROMPT" --max-new-tokens 60

echo
echo "== outputs in out/demo: checkpoints $(ls out/demo | grep -c checkpoint), metrics.jsonl (one JSON line per step), config.yaml"
