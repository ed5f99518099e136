# Every bad input is refused before any compute: a non-zero exit, one line on stderr that
# names the file / key / record (the `# expect:` line of each case in bad_inputs/), and
# nothing written: output_dir must not exist afterwards.
source "$(dirname "$0")/common.sh" "$@"
"$RINGLM" prepare --tokenizer data/stories260K/tok512.bin --output "$SCRATCH/good.h5" data/austen/persuasion.txt > /dev/null 2>&1
"$RINGLM" prepare --tokenizer data/llama2_tokenizer.bin --output "$SCRATCH/vocab32000.h5" data/austen/persuasion.txt > /dev/null 2>&1
echo "not an HDF5 file" > "$SCRATCH/not_hdf5.h5"
head -c 2000 "$SCRATCH/good.h5" > "$SCRATCH/truncated.h5"
head -c 500000 data/stories260K/stories260K.bin > "$SCRATCH/truncated.bin"

cases=0
for case in tests/integration/bad_inputs/*.yaml; do
    config="$SCRATCH/$(basename "$case")"
    sed "s|@SCRATCH@|$SCRATCH|g" "$case" > "$config"
    expected=$(head -1 "$config" | sed 's/^# expect: //')
    rm -rf "$SCRATCH/out"
    if "$RINGLM" train "$config" > "$SCRATCH/stdout" 2> "$SCRATCH/stderr"; then
        fail "$(basename "$case"): accepted"
    fi
    grep -qF -- "$expected" "$SCRATCH/stderr" || fail "$(basename "$case"): expected '$expected' in: $(cat "$SCRATCH/stderr")"
    [ "$(wc -l < "$SCRATCH/stderr")" -eq 1 ] || fail "$(basename "$case"): more than one line: $(cat "$SCRATCH/stderr")"
    [ ! -e "$SCRATCH/out" ] || fail "$(basename "$case"): wrote $SCRATCH/out"
    echo "refused $(basename "$case"): $(cat "$SCRATCH/stderr")"
    cases=$((cases + 1))
done
echo "PASS: $cases bad inputs refused, nothing written"
