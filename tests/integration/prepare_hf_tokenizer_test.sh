# ringlm prepare with a Hugging Face tokenizer folder (Qwen3's, fetched by the ctest fixture
# fetch_test_tokenizers): the file is the same with 1 and 2 encoding threads (parallel over
# documents, written in input order), documents end with the tokenizer's EOS, and a
# tokenizer.json using an unsupported model is refused naming the file and the JSON path.
source "$(dirname "$0")/common.sh" "$@"
model="$SOURCE_DIR/.cache/npm/tokenizer-qwen3/package/models"
[ -f "$model/tokenizer.json" ] || fail "$model/tokenizer.json missing: run scripts/fetch_test_tokenizers.sh"
for threads in 1 2; do
    OMP_NUM_THREADS=$threads "$RINGLM" prepare --tokenizer "$model" --split paragraphs --output "$SCRATCH/t$threads.h5" \
        data/austen/persuasion.txt data/austen/northangerabbey.txt > "$SCRATCH/t$threads.log" 2>&1 || { cat "$SCRATCH/t$threads.log"; fail "prepare failed"; }
    h5dump -d /input_ids -d /doc_offsets "$SCRATCH/t$threads.h5" | tail -n +2 > "$SCRATCH/t$threads.dump"
done
cat "$SCRATCH/t2.log"
grep -q "MB of text encoded at .* MB/s (2 threads)" "$SCRATCH/t2.log" || fail "no encode throughput in the summary"
cmp -s "$SCRATCH/t1.dump" "$SCRATCH/t2.dump" || fail "1 and 2 threads wrote different token files"
# Qwen3's tokenizer_config.json names <|im_end|> (151645) as EOS; Qwen adds no BOS
last_ids=$(h5dump -d /input_ids "$SCRATCH/t1.h5" | grep -c "151645")
[ "$last_ids" -gt 0 ] || fail "no EOS 151645 in the token file"
sed 's/"type": *"BPE"/"type": "Unigram"/' "$model/tokenizer.json" > "$SCRATCH/tokenizer.json"
if "$RINGLM" prepare --tokenizer "$SCRATCH/tokenizer.json" --output "$SCRATCH/bad.h5" data/austen/persuasion.txt > "$SCRATCH/bad.log" 2>&1; then
    fail "a Unigram tokenizer.json was not refused"
fi
grep -q "$SCRATCH/tokenizer.json: model.type: model \"Unigram\" is not supported" "$SCRATCH/bad.log" || { cat "$SCRATCH/bad.log"; fail "refusal does not name the file and model.type"; }
echo "PASS: identical token files with 1 and 2 threads; EOS present; Unigram refused"
