# base_model as a Hugging Face folder, end to end, from stories260K exported by `ringlm export`:
# - the folder, and the same weights split into two shards + model.safetensors.index.json,
#   train 3 steps with exactly the losses of training from the .bin (the f32 export is exact),
#   finite and falling; generate --model FOLDER gives the .bin's tokens;
# - refusals, one line each, a non-zero exit and nothing in output_dir: a missing tensor,
#   rope_scaling of a rule ringlm does not implement (dynamic), a truncated shard.
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

"$RINGLM" export --model data/stories260K/stories260K.bin --output "$SCRATCH/hf" > /dev/null
# shard.py SOURCE_FOLDER DESTINATION [OMITTED_TENSOR]: the source's tensors in two safetensors
# files and an index, as save_pretrained shards (its own few lines of the format).
cat > "$SCRATCH/shard.py" <<'PYTHON'
import json, os, shutil, struct, sys
source, destination = sys.argv[1:3]
omitted = sys.argv[3] if len(sys.argv) > 3 else None
data = open(os.path.join(source, "model.safetensors"), "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
header.pop("__metadata__")
names = [name for name in header if name != omitted]
os.makedirs(destination)
shutil.copy(os.path.join(source, "config.json"), destination)
weight_map = {}
for s, part in enumerate([names[:len(names) // 2], names[len(names) // 2:]]):
    file = f"model-{s + 1:05d}-of-00002.safetensors"
    shard, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in part:
        begin, end = header[name]["data_offsets"]
        chunks.append(data[8 + n + begin:8 + n + end])
        shard[name] = dict(header[name], data_offsets=[offset, offset + end - begin])
        offset += end - begin
        weight_map[name] = file
    text = json.dumps(shard).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    open(os.path.join(destination, file), "wb").write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(destination, "model.safetensors.index.json"), "w"))
PYTHON
/usr/bin/python3 "$SCRATCH/shard.py" "$SCRATCH/hf" "$SCRATCH/sharded"

train() {  # train NAME BASE_MODEL: 3 steps, prints the losses
    write_config "$SCRATCH/$1.yaml" "$SCRATCH/$1" 3 < /dev/null
    sed -i "s|^base_model: .*|base_model: $2|" "$SCRATCH/$1.yaml"
    "$RINGLM" train "$SCRATCH/$1.yaml" > "$SCRATCH/$1.log" 2>&1 || fail "training from $2: $(tail -3 "$SCRATCH/$1.log")"
    losses "$SCRATCH/$1/metrics.jsonl"
}
reference=$(train bin data/stories260K/stories260K.bin)
from_folder=$(train folder "$SCRATCH/hf")
from_shards=$(train shards "$SCRATCH/sharded")
echo "losses from the .bin: $(echo $reference); from the folder: $(echo $from_folder); from the shards: $(echo $from_shards)"
[ "$(echo "$reference" | wc -l)" -eq 3 ] || fail "expected 3 losses, got '$reference'"
[ "$from_folder" = "$reference" ] || fail "the folder trains to '$from_folder', the .bin to '$reference'"
[ "$from_shards" = "$reference" ] || fail "the shards train to '$from_shards', the .bin to '$reference'"
! echo "$from_folder" | grep -Evq '^[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$' || fail "losses not finite: $from_folder"
echo "$from_folder" | awk 'NR == 1 {first = $1} {last = $1} END {exit !(last < first)}' || fail "losses do not fall: $from_folder"
echo "PASS: training from a Hugging Face folder (single file and shards) equals training from the .bin"

generate() {
    "$RINGLM" generate --model "$1" --tokenizer data/stories260K/tok512.bin --prompt "Once upon a time" \
        --max-new-tokens 24 --print-ids | sed -n 's/^generated ids: //p'
}
from_bin=$(generate data/stories260K/stories260K.bin)
from_folder=$(generate "$SCRATCH/sharded")
[ -n "$from_bin" ] && [ "$from_bin" = "$from_folder" ] || fail "generate from the folder '$from_folder', the .bin '$from_bin'"
echo "PASS: generate --model FOLDER gives the .bin's tokens: $from_folder"

# eval --checkpoint FOLDER takes a Hugging Face folder as the weights (not as a run's output_dir)
evaluate() { "$RINGLM" eval "$SCRATCH/bin.yaml" --checkpoint "$1" | sed -n 's/^eval: loss //p'; }
from_bin=$(evaluate data/stories260K/stories260K.bin)
from_folder=$(evaluate "$SCRATCH/sharded")
[ -n "$from_bin" ] && [ "$from_bin" = "$from_folder" ] || fail "eval of the folder '$from_folder', of the .bin '$from_bin'"
echo "PASS: eval --checkpoint FOLDER equals eval of the .bin: $from_folder"

# base_model: org/name from the local Hugging Face cache (refs/main names the snapshot)
mkdir -p "$SCRATCH/hub/models--ringlm-test--stories260K/refs" "$SCRATCH/hub/models--ringlm-test--stories260K/snapshots"
cp -r "$SCRATCH/hf" "$SCRATCH/hub/models--ringlm-test--stories260K/snapshots/0123abcd"
echo 0123abcd > "$SCRATCH/hub/models--ringlm-test--stories260K/refs/main"
from_hub=$(HF_HUB_CACHE="$SCRATCH/hub" train hub ringlm-test/stories260K)
[ "$from_hub" = "$reference" ] || fail "base_model ringlm-test/stories260K trains to '$from_hub', the .bin to '$reference'"
echo "PASS: base_model org/name from the hub cache trains as the .bin"

refused() {  # refused NAME FOLDER EXPECTED: training from FOLDER fails with one line holding EXPECTED
    write_config "$SCRATCH/$1.yaml" "$SCRATCH/$1_out" 3 < /dev/null
    sed -i "s|^base_model: .*|base_model: $2|" "$SCRATCH/$1.yaml"
    if "$RINGLM" train "$SCRATCH/$1.yaml" > "$SCRATCH/stdout" 2> "$SCRATCH/stderr"; then fail "$1: accepted"; fi
    grep -qF -- "$3" "$SCRATCH/stderr" || fail "$1: expected '$3' in: $(cat "$SCRATCH/stderr")"
    [ "$(wc -l < "$SCRATCH/stderr")" -eq 1 ] || fail "$1: more than one line: $(cat "$SCRATCH/stderr")"
    [ -z "$(ls -A "$SCRATCH/$1_out" 2> /dev/null)" ] || fail "$1: wrote into output_dir: $(ls "$SCRATCH/$1_out")"
    echo "refused $1: $(cat "$SCRATCH/stderr")"
}
/usr/bin/python3 "$SCRATCH/shard.py" "$SCRATCH/hf" "$SCRATCH/missing" model.layers.2.mlp.up_proj.weight
refused missing_tensor "$SCRATCH/missing" \
    "$SCRATCH/missing: tensor 'model.layers.2.mlp.up_proj.weight' (ringlm's layers.2.feed_forward.w3) is missing"
cp -r "$SCRATCH/sharded" "$SCRATCH/dynamic"
/usr/bin/python3 -c 'import json, sys
config = json.load(open(sys.argv[1]))
config["rope_scaling"] = {"factor": 2.0, "rope_type": "dynamic"}
json.dump(config, open(sys.argv[1], "w"))' "$SCRATCH/dynamic/config.json"
HF_HUB_CACHE="$SCRATCH/hub" refused hub_missing ringlm-test/absent \
    "searched $SCRATCH/hub/models--ringlm-test--absent"
refused rope_scaling "$SCRATCH/dynamic" \
    "$SCRATCH/dynamic/config.json: rope_scaling rope_type \"dynamic\" is not supported"
cp -r "$SCRATCH/sharded" "$SCRATCH/truncated"
truncate -s -100 "$SCRATCH/truncated/model-00002-of-00002.safetensors"
refused truncated_shard "$SCRATCH/truncated" "$SCRATCH/truncated/model-00002-of-00002.safetensors: the tensors need"
echo "PASS: bad Hugging Face folders refused in one line, nothing written"
