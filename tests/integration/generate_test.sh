# stories260K at temperature 0 from "Once upon a time": ringlm's KV-cache generation must
# produce exactly the tokens of the independent PyTorch reference (tests/reference), which
# reads the llama2.c file itself and keeps llama2.c's interleaved RoPE.
source "$(dirname "$0")/common.sh" "$@"
output=$("$RINGLM" generate --model data/stories260K/stories260K.bin --tokenizer data/stories260K/tok512.bin \
    --prompt "Once upon a time" --max-new-tokens 48 --print-ids)
echo "$output"
prompt=$(echo "$output" | sed -n 's/^prompt ids: //p')
ours=$(echo "$output" | sed -n 's/^generated ids: //p')
[ "$prompt" = "1 403 407 261 378" ] || fail "prompt ids '$prompt'"
reference=$(cd tests/reference && /usr/bin/python3 generate_reference.py ../../data/stories260K/stories260K.bin 48 $prompt)
[ "$ours" = "$reference" ] || fail "generated '$ours' but the reference generated '$reference'"
echo "$output" | grep -q "Once upon a time, there was" || fail "not the expected story opening"
echo "PASS: 48 greedy tokens identical to the reference"
