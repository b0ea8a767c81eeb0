#!/usr/bin/env bash
# Any isolated-word corpus laid out as <word>/<file>.wav, split by speaker (speaker-independent).
#
#   bash recipes/folder/run.sh DATA_DIR [--stage N] [--stop-stage N] [--speaker-regex R]
#                              [--test-speakers a,b] [--test-fraction F] [--config FILE] [--tag NAME]
#                              [--pretrain-data DIR|none] [--pretrain-epochs N]
#
# The speaker of a file is read from its name with --speaker-regex (default: the text before the
# first '_'); test speakers never appear in train or valid.
# --pretrain-data: another <word>/<file> corpus (other words, other speakers, e.g.
# ../shared/data/arabic_speech_commands) on which the TDNN is first trained with the same config
# for --pretrain-epochs (default 12); training on DATA_DIR then starts from it
# (train.init_encoder). With a few dozen recordings per word, a G_W that has heard many voices
# generalizes to new speakers far better than one learned from the corpus alone. Speakers of DIR
# with the name of a test speaker of DATA_DIR are left out (the same corpus split in two).
# Default: ../shared/data/arabic_speech_commands beside the repository when it is there (40
# words, 24 speakers), else none; --pretrain-data none trains from random weights.
# Stages (markers in $exp/.done/ make a rerun skip finished stages; nothing is deleted):
#   1  prepare manifests                     -> data/$tag/*.jsonl
#   2  pretrain on --pretrain-data (if given) -> exp/$tag/pretrain/
#   3  train, and the exemplar expert        -> exp/$tag/train/, exp/$tag/exemplars/ (DTW 1-NN)
#   4  the product of experts' weights, chosen on the validation speakers (valid.jsonl), and
#      evaluation on the test speakers        -> exp/$tag/weights.json, exp/$tag/eval.txt (the
#      trained recognizer times the exemplars: product of experts, asr.recognition.ensemble),
#      exp/$tag/eval-trained.txt (alone), exp/$tag/train/confusion.png, exp/$tag/blend/
#   5  alignment picture of one test file    -> exp/$tag/align.png, align.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=folder
. "$here/../lib/stages.sh"

stage=1  # this recipe has no download stage
data_dir=""
prepare_args=()
config=""
tag=""
pretrain_data=default
pretrain_epochs=12
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --speaker-regex|--test-speakers|--test-fraction) need_value "$@"; prepare_args+=("$1" "$2"); shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    --pretrain-data) need_value "$@"; pretrain_data="$2"; shift 2 ;;
    --pretrain-epochs) need_value "$@"; pretrain_epochs="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *) [ -z "$data_dir" ] || usage_error "one DATA_DIR only (got '$data_dir' and '$1')"
       data_dir="$1"; shift ;;
  esac
done
[ -n "$data_dir" ] || usage_error "DATA_DIR is required (see --help)"
data_dir=$(abs_dir "$data_dir" DATA_DIR)
if [ "$pretrain_data" = default ]; then
  pretrain_data=$(shared_data arabic_speech_commands)
elif [ "$pretrain_data" = none ]; then
  pretrain_data=""
else
  pretrain_data=$(abs_dir "$pretrain_data" --pretrain-data)
fi
case "$pretrain_epochs" in ''|0|*[!0-9]*) usage_error "--pretrain-epochs: a positive integer" ;;
esac
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

init=()
if [ -n "$pretrain_data" ]; then
  init=("train.init_encoder=$here/$exp/pretrain")
  if run_stage 2 "pretrain the TDNN on $pretrain_data ($pretrain_epochs epochs)"; then
    # DIR's speakers named like a test speaker of DATA_DIR go to its (unused) test part
    asr prepare folder "$pretrain_data" --out "$data/pretrain" --test-fraction 0
    held=$(python3 -c 'import json, sys
speakers = [{json.loads(line)["speaker"] for line in open(path)} for path in sys.argv[1:]]
print(",".join(sorted(speakers[0] & (speakers[1] | speakers[2]))))' \
      "$data/test.jsonl" "$data/pretrain/train.jsonl" "$data/pretrain/valid.jsonl")
    if [ -n "$held" ]; then
      asr prepare folder "$pretrain_data" --out "$data/pretrain" --test-speakers "$held"
    fi
    asr train --data "$data/pretrain" --exp "$exp/pretrain" --config "$config" \
      "train.epochs=$pretrain_epochs" "${pretrain_overrides[@]}" $(pretrain_templates "$config") \
      $( [ -e "$exp/pretrain/last.pt" ] && echo --resume )
    done_stage 2
  fi
fi

if run_stage 3 "train ($config)"; then
  asr train --data "$data" --exp "$exp/train" --config "$config" ${init[@]+"${init[@]}"} \
    $( [ -e "$exp/train/last.pt" ] && echo --resume )
  # every training recording an exemplar on the same front end (nothing trained): blended in,
  # it keeps the recognizer at least as good as DTW 1-NN when the data are few
  asr train --data "$data" --exp "$exp/exemplars" --config "$config" --quiet model.kind=dtw1nn \
    train.epochs=0 'train.speeds=[1.0]' train.noise_prob=0
  done_stage 3
fi

if run_stage 4 "weights chosen on $data/valid.jsonl, evaluate on $data/test.jsonl"; then
  asr pick-weights --exp "$exp/train" --exp "$exp/exemplars" --manifest "$data/valid.jsonl" \
    --out "$exp/weights.json"
  weight_args=()
  for w in $(json_get "$exp/weights.json" weights); do weight_args+=(--weight "$w"); done
  asr eval --exp "$exp/train" --manifest "$data/test.jsonl" --format table > "$exp/eval-trained.txt"
  asr eval --exp "$exp/train" --exp "$exp/exemplars" "${weight_args[@]}" --out "$exp/blend" \
    --manifest "$data/test.jsonl" --format table | tee "$exp/eval.txt"
  done_stage 4
fi

if run_stage 5 "alignment picture of one test file"; then
  utterance=$(first_utterance "$data/test.jsonl")
  asr align --exp "$exp/train" "$utterance" --out "$exp/align.png" --json "$exp/align.json"
  done_stage 5
fi

[ -e "$exp/eval.txt" ] && { log "results:"; cat "$exp/eval.txt"; }
log "pictures: $(ls "$exp"/*.png "$exp"/train/*.png 2>/dev/null | tr '\n' ' ')"
