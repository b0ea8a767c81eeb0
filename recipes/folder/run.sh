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
#   2  train                                 -> exp/$tag/train/
#   3  evaluate on the test speakers         -> exp/$tag/eval.txt, exp/$tag/train/confusion.png
#   4  alignment picture of one test file    -> exp/$tag/align.png, align.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '2,13p' "$here/run.sh" | sed 's/^# \{0,1\}//'; }

stage=1
stop_stage=100
forced=0  # with --stage, every stage from it to --stop-stage runs again, markers or not
data_dir=""
prepare_args=()
config=""
tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) stage="$2"; forced=1; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    --speaker-regex|--test-speakers|--test-fraction) prepare_args+=("$1" "$2"); shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) [ -z "$data_dir" ] || { echo "run.sh: one DATA_DIR only (got '$data_dir' and '$1')" >&2; exit 2; }
       data_dir="$1"; shift ;;
  esac
done
[ -n "$data_dir" ] || { echo "run.sh: DATA_DIR is required (see --help)" >&2; exit 2; }
data_dir=$(cd "$data_dir" 2>/dev/null && pwd || { echo "run.sh: DATA_DIR $data_dir: no such directory" >&2; exit 2; })
case "$config" in ""|/*) ;; *) config=$(pwd)/$config ;; esac
cd "$here"
[ -n "$config" ] || config=conf/default.yaml
[ -n "$tag" ] || tag=$(basename "$data_dir")
command -v asr >/dev/null || { echo "run.sh: 'asr' not on PATH (activate .venv)" >&2; exit 1; }

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done"
log() { echo "[folder $(date +%H:%M:%S)] $*"; }
run_stage() {
  local n=$1; shift
  if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 1; fi
  if [ -e "$exp/.done/stage$n" ] && [ "$forced" -eq 0 ]; then
    log "stage $n ($*): done before, skipped (marker $exp/.done/stage$n)"; return 1
  fi
  log "stage $n: $*"
}
done_stage() { touch "$exp/.done/stage$1"; }

if run_stage 1 "prepare manifests from $data_dir"; then
  asr prepare folder "$data_dir" --out "$data" ${prepare_args[@]+"${prepare_args[@]}"}
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

if run_stage 4 "alignment picture of one test file"; then
  utterance=$(python3 -c 'import json,sys,os; e=json.loads(open(sys.argv[1]).readline()); p=e["path"]; print(p if os.path.isabs(p) else os.path.join(os.path.dirname(sys.argv[1]), p))' "$data/test.jsonl")
  asr align --exp "$exp/train" "$utterance" --out "$exp/align.png" --json "$exp/align.json"
  done_stage 4
fi

[ -e "$exp/eval.txt" ] && { log "results:"; cat "$exp/eval.txt"; }
log "pictures: $(ls "$exp"/*.png "$exp"/train/*.png 2>/dev/null | tr '\n' ' ')"
