#!/usr/bin/env bash
# Speech Commands v0.02 recipe (Warden 2018): one-second clips, 16 kHz.
#
#   bash recipes/speech_commands/run.sh [--stage N] [--stop-stage N] [--data-dir DIR]
#                                       [--task 10|35] [--config FILE] [--tag NAME]
#
# --task 10: the ten command words (yes no up down left right on off stop go); --task 35: all words.
# Stages (markers in $exp/.done/ make a rerun skip finished stages; nothing is deleted):
#   0  download Speech Commands v0.02 into downloads/ (skipped when --data-dir is given)
#   1  prepare manifests with the corpus's validation/testing lists -> data/$tag/*.jsonl
#   2  train                                 -> exp/$tag/train/
#   3  evaluate on the test list             -> exp/$tag/eval.txt, exp/$tag/train/confusion.png
#   4  alignment picture of one test clip    -> exp/$tag/align.png, align.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=speech_commands
. "$here/../lib/stages.sh"

data_dir=""
task=10
config=""
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --task) need_value "$@"; task="$2"; shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
case "$task" in
  10) words="yes,no,up,down,left,right,on,off,stop,go" ;;
  35) words="" ;;
  *) usage_error "--task must be 10 or 35, got '$task'" ;;
esac
[ -n "$data_dir" ] && data_dir=$(abs_dir "$data_dir" --data-dir)
from_caller config
cd "$here"
[ -n "$config" ] || config=conf/default.yaml
[ -n "$tag" ] || tag="task$task"
require_asr "activate .venv"

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done"

if [ -z "$data_dir" ]; then
  data_dir=downloads/speech_commands_v0.02
  if run_stage 0 "download Speech Commands v0.02"; then
    asr download speech-commands downloads
    done_stage 0
  fi
fi

if run_stage 1 "prepare manifests from $data_dir (task $task)"; then
  asr prepare speech-commands "$data_dir" --out "$data" ${words:+--words "$words"}
  done_stage 1
fi

if run_stage 2 "train ($config)"; then
  asr train --data "$data" --exp "$exp/train" --config "$config" $( [ -e "$exp/train/last.pt" ] && echo --resume )
  done_stage 2
fi

if run_stage 3 "evaluate on $data/test.jsonl"; then
  asr eval --exp "$exp/train" --manifest "$data/test.jsonl" --format table | tee "$exp/eval.txt"
  done_stage 3
fi

if run_stage 4 "alignment picture of one test clip"; then
  utterance=$(first_utterance "$data/test.jsonl")
  asr align --exp "$exp/train" "$utterance" --out "$exp/align.png" --json "$exp/align.json"
  done_stage 4
fi

[ -e "$exp/eval.txt" ] && { log "results:"; cat "$exp/eval.txt"; }
log "pictures: $(ls "$exp"/*.png "$exp"/train/*.png 2>/dev/null | tr '\n' ' ')"
