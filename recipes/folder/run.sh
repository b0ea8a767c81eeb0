#!/usr/bin/env bash
# Any isolated-word corpus laid out as <word>/<file>.wav, split by speaker (speaker-independent).
#
#   bash recipes/folder/run.sh DATA_DIR [--stage N] [--stop-stage N] [--speaker-regex R]
#                              [--test-speakers a,b] [--test-fraction F] [--config FILE] [--tag NAME]
#
# The speaker of a file is read from its name with --speaker-regex (default: the text before the
# first '_'); test speakers never appear in train or valid.
# Stages (markers in $exp/.done/ make a rerun skip finished stages; nothing is deleted):
#   1  prepare manifests                     -> data/$tag/*.jsonl
#   2  train, and the exemplar expert        -> exp/$tag/train/, exp/$tag/exemplars/ (DTW 1-NN)
#   3  evaluate on the test speakers         -> exp/$tag/eval.txt (the trained recognizer times
#      the exemplars: product of experts, asr.ensemble), exp/$tag/eval-trained.txt (alone),
#      exp/$tag/train/confusion.png, exp/$tag/blend/
#   4  alignment picture of one test file    -> exp/$tag/align.png, align.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=folder
. "$here/../lib/stages.sh"

stage=1  # this recipe has no download stage
data_dir=""
prepare_args=()
config=""
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --speaker-regex|--test-speakers|--test-fraction) need_value "$@"; prepare_args+=("$1" "$2"); shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *) [ -z "$data_dir" ] || usage_error "one DATA_DIR only (got '$data_dir' and '$1')"
       data_dir="$1"; shift ;;
  esac
done
[ -n "$data_dir" ] || usage_error "DATA_DIR is required (see --help)"
data_dir=$(abs_dir "$data_dir" DATA_DIR)
from_caller config
cd "$here"
[ -n "$config" ] || config=conf/default.yaml
[ -n "$tag" ] || tag=$(basename "$data_dir")
require_asr "activate .venv"

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done"

if run_stage 1 "prepare manifests from $data_dir"; then
  asr prepare folder "$data_dir" --out "$data" ${prepare_args[@]+"${prepare_args[@]}"}
  done_stage 1
fi

if run_stage 2 "train ($config)"; then
  asr train --data "$data" --exp "$exp/train" --config "$config" $( [ -e "$exp/train/last.pt" ] && echo --resume )
  # every training recording an exemplar on the same front end (nothing trained): blended in,
  # it keeps the recognizer at least as good as DTW 1-NN when the data are few
  asr train --data "$data" --exp "$exp/exemplars" --config "$config" --quiet model.kind=dtw1nn \
    train.epochs=0 'train.speeds=[1.0]' train.noise_prob=0
  done_stage 2
fi

if run_stage 3 "evaluate on $data/test.jsonl"; then
  asr eval --exp "$exp/train" --manifest "$data/test.jsonl" --format table > "$exp/eval-trained.txt"
  asr eval --exp "$exp/train" --exp "$exp/exemplars" --out "$exp/blend" \
    --manifest "$data/test.jsonl" --format table | tee "$exp/eval.txt"
  done_stage 3
fi

if run_stage 4 "alignment picture of one test file"; then
  utterance=$(first_utterance "$data/test.jsonl")
  asr align --exp "$exp/train" "$utterance" --out "$exp/align.png" --json "$exp/align.json"
  done_stage 4
fi

[ -e "$exp/eval.txt" ] && { log "results:"; cat "$exp/eval.txt"; }
log "pictures: $(ls "$exp"/*.png "$exp"/train/*.png 2>/dev/null | tr '\n' ' ')"
