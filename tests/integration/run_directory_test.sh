# The run directory (train/run_directory.h): an earlier run is never overwritten silently.
# - a second run into an output_dir holding a run is refused in one line naming the folder and
#   both ways on, and the earlier run's files are byte for byte as they were;
# - overwrite_output_dir: true moves them into output_dir/overwritten-<time>/ (same bytes) and
#   starts over: steps 1..N once each in the new metrics.jsonl;
# - resume_from_checkpoint: auto after an attempt that died past its last checkpoint: records
#   after the checkpoint (and a torn last line) move to metrics.discarded.jsonl, each step is
#   in metrics.jsonl once, and the losses equal the uninterrupted run's bit for bit;
# - an output_dir that is a file, or lies under one, is refused naming output_dir;
#   overwrite_output_dir with resume_from_checkpoint is refused as contradictory.
source "$(dirname "$0")/common.sh" "$@"
make_corpus
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
fingerprint() { (cd "$1" && find . -maxdepth 1 -type f ! -name config.yaml -print0 | sort -z | xargs -0 md5sum); }
steps() { grep -o '"step":[0-9]*' "$1" | cut -d: -f2 | tr '\n' ' '; }
refused() {  # refused NAME CONFIG EXPECTED: a non-zero exit and one stderr line containing EXPECTED
    if "$RINGLM" train "$2" > "$SCRATCH/$1.out" 2> "$SCRATCH/$1.err"; then fail "$1: accepted"; fi
    grep -qF -- "$3" "$SCRATCH/$1.err" || fail "$1: expected '$3' in: $(cat "$SCRATCH/$1.err")"
    [ "$(wc -l < "$SCRATCH/$1.err")" -eq 1 ] || fail "$1: more than one line: $(cat "$SCRATCH/$1.err")"
    echo "refused $1: $(cat "$SCRATCH/$1.err")"
}

write_config "$SCRATCH/run.yaml" "$SCRATCH/run" 4 <<< "save_steps: 2"
"$RINGLM" train "$SCRATCH/run.yaml" > /dev/null
before=$(fingerprint "$SCRATCH/run")
refused second_run "$SCRATCH/run.yaml" \
    "output_dir '$SCRATCH/run' holds an earlier run (2 checkpoint(s), metrics.jsonl): set resume_from_checkpoint: auto to continue it, or overwrite_output_dir: true to start over"
[ "$(fingerprint "$SCRATCH/run")" = "$before" ] || fail "the refused run changed the earlier run's files"
echo "PASS: a second run into a used output_dir is refused, the earlier run untouched"

write_config "$SCRATCH/overwrite.yaml" "$SCRATCH/run" 4 <<< "overwrite_output_dir: true"
"$RINGLM" train "$SCRATCH/overwrite.yaml" > "$SCRATCH/overwrite.log"
aside=$(ls -d "$SCRATCH"/run/overwritten-*)
[ "$(fingerprint "$aside")" = "$before" ] || fail "the files moved aside differ from the earlier run's"
[ "$(steps "$SCRATCH/run/metrics.jsonl")" = "1 2 3 4 " ] || fail "overwritten run's steps: $(steps "$SCRATCH/run/metrics.jsonl")"
grep -q "moved to $aside" "$SCRATCH/overwrite.log" || fail "no note of where the earlier run went"
echo "PASS: overwrite_output_dir moved the earlier run to $(basename "$aside") and started over"

# An attempt that died after step 3 with its last checkpoint at step 2: fabricated from a
# straight run (steps 3 and 4's records, a torn line), then resumed.
write_config "$SCRATCH/straight.yaml" "$SCRATCH/straight" 4 < /dev/null
"$RINGLM" train "$SCRATCH/straight.yaml" > /dev/null
mkdir "$SCRATCH/died"
cp "$aside/checkpoint-0000002.h5" "$SCRATCH/died/"
grep '"step":[12][,}]' "$aside/metrics.jsonl" > "$SCRATCH/died/metrics.jsonl"
grep '"step":3[,}]' "$aside/metrics.jsonl" >> "$SCRATCH/died/metrics.jsonl"
printf '{"loss":2.5,"st' >> "$SCRATCH/died/metrics.jsonl"
write_config "$SCRATCH/died.yaml" "$SCRATCH/died" 4 <<< "resume_from_checkpoint: auto"
"$RINGLM" train "$SCRATCH/died.yaml" > "$SCRATCH/died.log"
[ "$(steps "$SCRATCH/died/metrics.jsonl")" = "1 2 3 4 " ] || fail "resumed steps: $(steps "$SCRATCH/died/metrics.jsonl")"
[ "$(wc -l < "$SCRATCH/died/metrics.discarded.jsonl")" -eq 2 ] || fail "expected 2 discarded lines: $(cat "$SCRATCH/died/metrics.discarded.jsonl")"
diff <(losses "$SCRATCH/straight/metrics.jsonl") <(losses "$SCRATCH/died/metrics.jsonl") || fail "resumed losses differ"
echo "PASS: resume after a dead attempt: steps 1-4 once each, stale records moved aside, losses bit for bit"

echo "not a folder" > "$SCRATCH/a_file"
write_config "$SCRATCH/file.yaml" "$SCRATCH/a_file" 2 < /dev/null
refused output_dir_is_a_file "$SCRATCH/file.yaml" "output_dir '$SCRATCH/a_file' is a file, not a folder"
write_config "$SCRATCH/under.yaml" "$SCRATCH/a_file/run" 2 < /dev/null
refused output_dir_under_a_file "$SCRATCH/under.yaml" "output_dir '$SCRATCH/a_file/run' cannot be created: '$SCRATCH/a_file' is a file"
write_config "$SCRATCH/both.yaml" "$SCRATCH/both" 2 <<< $'overwrite_output_dir: true\nresume_from_checkpoint: auto'
refused overwrite_and_resume "$SCRATCH/both.yaml" "overwrite_output_dir' is true and resume_from_checkpoint is set"
[ ! -e "$SCRATCH/both" ] || fail "a refused run created its output_dir"
echo "PASS: bad output_dirs refused naming the key"
