# generate on a Hugging Face folder that holds its own tokenizer.json, without --tokenizer:
# stories260K exported to Hugging Face form, plus a hand-made SentencePiece-style tokenizer.json
# (<unk> <s> </s>, the 256 byte pieces, ▁ a b ▁a ab ▁ab; BOS <s> by its template). The prompt
# "ab ab" must become BOS ▁ab ▁ab (1 264 264), and the text printed must start with the prompt.
source "$(dirname "$0")/common.sh" "$@"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$RINGLM" export --model data/stories260K/stories260K.bin --output "$SCRATCH/hf" > /dev/null || fail "export failed"
python3 - "$SCRATCH/hf/tokenizer.json" <<'PY'
import json, sys
vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
vocab.update({"<0x%02X>" % b: 3 + b for b in range(256)})
for i, piece in enumerate(["\u2581", "a", "b", "\u2581a", "ab", "\u2581ab"]):
    vocab[piece] = 259 + i
tokenizer = {
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
    "pre_tokenizer": None,
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": vocab,
              "merges": ["\u2581 a", "a b", "\u2581a b"]},
    "added_tokens": [{"id": 1, "content": "<s>", "special": True}, {"id": 2, "content": "</s>", "special": True}],
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [1]}}},
    "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
}
json.dump(tokenizer, open(sys.argv[1], "w"))
PY
output=$("$RINGLM" generate --model "$SCRATCH/hf" --prompt "ab ab" --max-new-tokens 8 --print-ids) || fail "generate failed"
echo "$output"
[ "$(echo "$output" | sed -n 's/^prompt ids: //p')" = "1 264 264" ] || fail "prompt ids are not 1 264 264"
echo "$output" | tail -n 1 | grep -q "^ab ab" || fail "the printed text does not start with the prompt"
# a llama2.c .bin has no tokenizer of its own: --tokenizer is required
if "$RINGLM" generate --model data/stories260K/stories260K.bin --prompt "x" > "$SCRATCH/no_tokenizer.log" 2>&1; then
    fail "generate without a tokenizer was not refused"
fi
grep -q -- "--tokenizer is required" "$SCRATCH/no_tokenizer.log" || { cat "$SCRATCH/no_tokenizer.log"; fail "refusal does not say --tokenizer is required"; }
echo "PASS: the folder's tokenizer.json encodes the prompt and decodes the output"
