#!/usr/bin/env bash
# FSDD (Free Spoken Digit Dataset) recipe: ten digits, 8 kHz.
#
#   bash recipes/fsdd/run.sh [--stage N] [--stop-stage N] [--data-dir DIR] [--test-speakers S]
#                            [--config FILE] [--compare-config FILE] [--losses L1,L2,..]
#                            [--seeds 0,1,..] [--tag NAME]
#
# Stages (each leaves a marker in $exp/.done/, so a rerun skips what is finished;
# --stage N reruns stages N..stop-stage whatever their markers; nothing is ever deleted):
#   0  download FSDD into downloads/ (skipped when --data-dir is given or the data is there)
#   1  prepare manifests               -> data/$tag/{train,valid,test}.jsonl
#   2  train with the default loss     -> exp/$tag/train/
#   3  evaluate on the test set        -> exp/$tag/eval.txt, exp/$tag/train/eval.json, confusion.png
#   4  alignment picture of one test utterance -> exp/$tag/align.png, align.json
#   5  compare the losses              -> exp/$tag/compare/comparison.{md,json}, curves.png
#
# Speaker-independent variant: --test-speakers jackson (that speaker only in test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=fsdd
. "$here/../lib/stages.sh"

data_dir=""
test_speakers=""
config=""  # default conf/default.yaml
compare_config=""  # default conf/compare.yaml
losses="lvq2,mce,mmi,perceptron,hinge,log,square-square,square-exp,energy"
seeds="0"
tag=""

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --test-speakers) need_value "$@"; test_speakers="$2"; shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --compare-config) need_value "$@"; compare_config="$2"; shift 2 ;;
    --losses) need_value "$@"; losses="$2"; shift 2 ;;
    --seeds) need_value "$@"; seeds="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
# paths given on the command line are relative to where the recipe was started
[ -n "$data_dir" ] && data_dir=$(abs_dir "$data_dir" --data-dir)
from_caller config compare_config
cd "$here"
[ -n "$config" ] || config=conf/default.yaml
[ -n "$compare_config" ] || compare_config=conf/compare.yaml
if [ -z "$tag" ]; then
  tag=standard
  [ -n "$test_speakers" ] && tag="si_${test_speakers//,/_}"
fi
require_asr "run 'make run' from the repo root"

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done"

if [ -z "$data_dir" ]; then
  data_dir=downloads/fsdd
  if run_stage 0 "download FSDD"; then
    asr download fsdd downloads
    done_stage 0
  fi
fi

if run_stage 1 "prepare manifests from $data_dir"; then
  asr prepare fsdd "$data_dir" --out "$data" ${test_speakers:+--test-speakers "$test_speakers"}
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

if run_stage 4 "alignment picture of one test utterance"; then
  utterance=$(first_utterance "$data/test.jsonl")
  asr align --exp "$exp/train" "$utterance" --out "$exp/align.png" --json "$exp/align.json"
  done_stage 4
fi

if run_stage 5 "compare losses: $losses (seeds $seeds)"; then
  asr compare-losses --data "$data" --exp "$exp/compare" --losses "$losses" --seeds "$seeds" --config "$compare_config"
  done_stage 5
fi

log "results:"
[ -e "$exp/eval.txt" ] && cat "$exp/eval.txt"
[ -e "$exp/compare/comparison.md" ] && cat "$exp/compare/comparison.md"
log "pictures: $(ls "$exp"/*.png "$exp"/train/*.png "$exp"/compare/*.png 2>/dev/null | tr '\n' ' ')"
