# `ringlm export` end to end on a checkpoint from a few training steps:
# - hf: model.safetensors, config.json and the tokenizer the training config names, sizes as
#   the model implies (f32 and bf16); the safetensors header parses; a Hugging Face tokenizer
#   (tokenizer.json with tokenizer_config.json and special_tokens_map.json beside it) is shipped
#   whole, from --tokenizer or from a Hugging Face input folder;
# - llama2c: ringlm generates exactly the same tokens from the exported .bin as from the
#   checkpoint (the weights survive the format and its RoPE permutation);
# - refusals, one line each, nothing written: a non-empty output (until --force), a missing or
#   wrong input, an uncreatable output folder, bf16 for llama2c.
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

write_config "$SCRATCH/run.yaml" "$SCRATCH/run" 3 <<< "tokenizer: data/stories260K/tok512.bin"
"$RINGLM" train "$SCRATCH/run.yaml" > /dev/null
checkpoint="$SCRATCH/run/checkpoint-0000003.h5"
[ -f "$checkpoint" ] || fail "no checkpoint after 3 steps"

# stories260K: 47 tensors (embedding, 9 per layer x 5, final norm; tied), 260032 parameters
"$RINGLM" export --checkpoint "$checkpoint" --output "$SCRATCH/hf" > "$SCRATCH/hf.log"
cat "$SCRATCH/hf.log"
grep -q "^exported 47 tensors, 260032 parameters, [0-9]* bytes to $SCRATCH/hf/model.safetensors$" "$SCRATCH/hf.log" \
    || fail "no summary line"
grep -q "not exported in Hugging Face form" "$SCRATCH/hf.log" || fail "the tokenizer caveat is not said"
cmp data/stories260K/tok512.bin "$SCRATCH/hf/tok512.bin" || fail "the tokenizer was not copied"
[ -z "$(find "$SCRATCH/hf" -name '*.tmp')" ] || fail "temporary files left behind"
header_check='import json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
config = json.load(open(sys.argv[2]))
print(len(data) - 8 - n, len(header) - 1, config["torch_dtype"], config["tie_word_embeddings"], config["num_key_value_heads"])'
summary=$(/usr/bin/python3 -c "$header_check" "$SCRATCH/hf/model.safetensors" "$SCRATCH/hf/config.json")
[ "$summary" = "1040128 47 float32 True 4" ] || fail "safetensors/config: '$summary', expected '1040128 47 float32 True 4'"
"$RINGLM" export --checkpoint "$checkpoint" --output "$SCRATCH/hf_bf16" --dtype bf16 > /dev/null
summary=$(/usr/bin/python3 -c "$header_check" "$SCRATCH/hf_bf16/model.safetensors" "$SCRATCH/hf_bf16/config.json")
[ "$summary" = "520064 47 bfloat16 True 4" ] || fail "bf16 safetensors/config: '$summary'"
echo "PASS: hf export (f32, bf16) with config.json and the tokenizer"

# A Hugging Face tokenizer's files go along byte for byte (export copies, it does not re-encode).
mkdir -p "$SCRATCH/hf_tokenizer"
printf '{"version": "1.0", "model": {"type": "BPE"}, "seed": %s}\n' "$RANDOM" > "$SCRATCH/hf_tokenizer/tokenizer.json"
printf '{"chat_template": "{{ messages }}", "seed": %s}\n' "$RANDOM" > "$SCRATCH/hf_tokenizer/tokenizer_config.json"
printf '{"eos_token": "</s>"}\n' > "$SCRATCH/hf_tokenizer/special_tokens_map.json"
"$RINGLM" export --checkpoint "$checkpoint" --tokenizer "$SCRATCH/hf_tokenizer" --output "$SCRATCH/hf_tok" \
    > "$SCRATCH/hf_tok.log"
grep -q "^tokenizer: copied tokenizer.json, tokenizer_config.json, special_tokens_map.json from $SCRATCH/hf_tokenizer" \
    "$SCRATCH/hf_tok.log" || fail "the Hugging Face tokenizer's files: $(cat "$SCRATCH/hf_tok.log")"
for name in tokenizer.json tokenizer_config.json special_tokens_map.json; do
    cmp "$SCRATCH/hf_tokenizer/$name" "$SCRATCH/hf_tok/$name" || fail "$name was not copied whole"
done
# and from a Hugging Face input folder holding them: its own tokenizer, unasked
cp "$SCRATCH/hf_tokenizer/"*.json "$SCRATCH/hf_bf16/"
"$RINGLM" export --model "$SCRATCH/hf_bf16" --output "$SCRATCH/hf_again" > "$SCRATCH/hf_again.log"
for name in tokenizer.json tokenizer_config.json special_tokens_map.json; do
    cmp "$SCRATCH/hf_tokenizer/$name" "$SCRATCH/hf_again/$name" || fail "$name of the input folder was not copied"
done
"$RINGLM" export --model "$SCRATCH/hf_bf16" --format llama2c --output "$SCRATCH/from_hf.bin" > "$SCRATCH/from_hf.log"
grep -q "is a Hugging Face tokenizer.json, which run.c cannot read" "$SCRATCH/from_hf.log" \
    || fail "a tokenizer.json with the llama2c format is not said: $(cat "$SCRATCH/from_hf.log")"
echo "PASS: a Hugging Face tokenizer's files are shipped with an hf export"

"$RINGLM" export --checkpoint "$checkpoint" --format llama2c --output "$SCRATCH/model.bin" > "$SCRATCH/bin.log"
grep -q "^exported 47 tensors, 260032 parameters, 1056540 bytes to $SCRATCH/model.bin$" "$SCRATCH/bin.log" \
    || fail "llama2c summary: $(cat "$SCRATCH/bin.log")"
generate() {
    "$RINGLM" generate --model "$1" --tokenizer data/stories260K/tok512.bin --prompt "Once upon a time" \
        --max-new-tokens 32 --print-ids | sed -n 's/^generated ids: //p'
}
from_checkpoint=$(generate "$checkpoint")
from_export=$(generate "$SCRATCH/model.bin")
[ -n "$from_checkpoint" ] && [ "$from_checkpoint" = "$from_export" ] \
    || fail "the exported .bin generates '$from_export', the checkpoint '$from_checkpoint'"
echo "PASS: llama2c export generates the checkpoint's tokens: $from_export"

# Under mpirun one rank writes (export needs no mpirun, as generate).
mpiexec -np 2 "$RINGLM" export --model data/stories260K/stories260K.bin --output "$SCRATCH/hf_mpi" > "$SCRATCH/mpi.log"
[ "$(grep -c '^exported' "$SCRATCH/mpi.log")" -eq 1 ] || fail "under mpirun: $(cat "$SCRATCH/mpi.log")"
grep -q "none known for this model" "$SCRATCH/mpi.log" || fail "a llama2.c model's missing tokenizer is not said"

refused() {  # refused EXPECTED ARGS...: fails with one stderr line containing EXPECTED
    local expected=$1
    shift
    if "$RINGLM" export "$@" > "$SCRATCH/stdout" 2> "$SCRATCH/stderr"; then fail "accepted: export $*"; fi
    grep -qF -- "$expected" "$SCRATCH/stderr" || fail "export $*: expected '$expected' in: $(cat "$SCRATCH/stderr")"
    [ "$(wc -l < "$SCRATCH/stderr")" -eq 1 ] || fail "export $*: more than one line: $(cat "$SCRATCH/stderr")"
    echo "refused: $(cat "$SCRATCH/stderr")"
}
before=$(stat -c %Y "$SCRATCH/hf/model.safetensors")
refused "--output $SCRATCH/hf: exists and is not empty; pass --force" --checkpoint "$checkpoint" --output "$SCRATCH/hf"
[ "$(stat -c %Y "$SCRATCH/hf/model.safetensors")" = "$before" ] || fail "the refused export touched the output"
"$RINGLM" export --checkpoint "$checkpoint" --output "$SCRATCH/hf" --force > /dev/null || fail "--force refused"
refused "--output $SCRATCH/model.bin: exists; pass --force" --checkpoint "$checkpoint" --format llama2c \
    --output "$SCRATCH/model.bin"
refused "--checkpoint $SCRATCH/no/such.h5: no such file" --checkpoint "$SCRATCH/no/such.h5" --output "$SCRATCH/new"
refused "not a ringlm checkpoint (HDF5); a llama2.c .bin goes with --model" \
    --checkpoint data/stories260K/stories260K.bin --output "$SCRATCH/new"
refused "give exactly one of --checkpoint" --output "$SCRATCH/new"
refused "the llama2c format holds f32 only" --checkpoint "$checkpoint" --format llama2c --dtype bf16 \
    --output "$SCRATCH/new.bin"
touch "$SCRATCH/a_file"
refused "--output $SCRATCH/a_file/hf: cannot create the folder" --checkpoint "$checkpoint" --output "$SCRATCH/a_file/hf"
[ ! -e "$SCRATCH/new" ] && [ ! -e "$SCRATCH/new.bin" ] || fail "a refused export wrote its output"
echo "PASS: bad exports refused in one line, nothing written"
