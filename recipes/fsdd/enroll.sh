#!/usr/bin/env bash
# FSDD enrollment: train on some digits, enroll the others from a few recordings (no retraining),
# and score on a held-out speaker over all ten digits, beside the model trained on all ten.
#
#   bash recipes/fsdd/enroll.sh [--data-dir DIR] [--test-speakers S] [--enroll-speaker E]
#                               [--new-words 7,8,9] [--takes 10,11,12] [--config FILE]
#                               [--init-encoder DIR] [--enroll-options "OPTS"] [--tag NAME]
#                               [--stage N] [--stop-stage N]
#
# --data-dir: FSDD (its recordings/; default ../shared/data/fsdd beside the repository when it is
# there). --test-speakers: the held-out speaker(s), every recording of them scored one utterance
# at a time (default jackson). --enroll-speaker: a training speaker whose --takes recordings of
# each new word are the enrollment examples (default george, takes 10,11,12). --new-words: the
# words left out of the base model's training and enrolled afterwards (default 7,8,9).
# --config: the TDNN config of both trainings (default conf/speaker_independent.yaml; a relative
# path is read from the caller's folder if it is there, else from recipes/fsdd/).
# --init-encoder: an experiment whose TDNN both trainings start from (train.init_encoder), e.g.
# exp/pretrain/train of loso.sh (pretrained on Arabic Speech Commands). --enroll-options: extra
# options of `asr enroll` for the enrolled system (e.g. "--tune 10"). --tag: the name of the run
# (default enroll_S).
# Choose settings with another held-out speaker than the one you report (e.g. --test-speakers
# lucas to choose, then jackson): S's figures must not pick anything.
#
# Stages (markers in exp/TAG/.done/enroll-stageN; a rerun skips what is finished; --stage N reruns
# N..stop-stage whatever their markers; nothing is deleted):
#   1  manifests: data/TAG/all (S in test), data/TAG/base (the same without the new words)
#   2  train the base model on the other words                  -> exp/TAG/base/
#   3  train the anchor on all the words, same config             -> exp/TAG/all/
#   4  copy the base model, enroll each new word from E's takes   -> exp/TAG/enrolled/
#   5  the DTW anchors on MFCCs (conf/dtw1nn.yaml, no network):
#        exp/TAG/dtw1nn/  every training utterance of the other words a template, the new words
#                         enrolled from the same examples
#        exp/TAG/qbe/     query by example: E's takes of every word, nothing else (as spot.sh)
#   6  score each on S, strict (each utterance on its own)      -> exp/TAG/score/<system>/eval.json
# Last (always): the table, per-word accuracy of the new words -> exp/TAG/results.{md,json}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=fsdd-enroll
marker=enroll-stage
. "$here/../lib/stages.sh"

data_dir=default
test_speakers=jackson
enroll_speaker=george
new_words=7,8,9
takes=10,11,12
config=""  # default conf/speaker_independent.yaml
init_encoder=""
enroll_options=""
tag=""

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --test-speakers) need_value "$@"; test_speakers="$2"; shift 2 ;;
    --enroll-speaker) need_value "$@"; enroll_speaker="$2"; shift 2 ;;
    --new-words) need_value "$@"; new_words="$2"; shift 2 ;;
    --takes) need_value "$@"; takes="$2"; shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --init-encoder) need_value "$@"; init_encoder="$2"; shift 2 ;;
    --enroll-options) need_value "$@"; enroll_options="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
if [ "$data_dir" = default ]; then
  data_dir=$(shared_data fsdd)
  [ -n "$data_dir" ] || usage_error "--data-dir DIR (FSDD) is required: no ../shared/data/fsdd"
fi
data_dir=$(abs_dir "$data_dir" --data-dir)
[ -n "$init_encoder" ] && init_encoder=$(abs_dir "$init_encoder" --init-encoder)
[ -n "${new_words//,/}" ] || usage_error "--new-words: give at least one word"
[ -n "${takes//,/}" ] || usage_error "--takes: give at least one take"
case ",$test_speakers," in *",$enroll_speaker,"*)
  usage_error "--enroll-speaker $enroll_speaker is a test speaker: enroll from a training one" ;;
esac
from_caller config
cd "$here"
[ -n "$config" ] || config=conf/speaker_independent.yaml
[ -e "$config" ] || usage_error "--config $config: no such file"
[ -n "$tag" ] || tag="enroll_${test_speakers//,/_}"
require_asr "activate the repository's .venv"

recordings=$data_dir
[ -d "$data_dir/recordings" ] && recordings=$data_dir/recordings
examples() {  # the enrollment examples of word $1
  local take
  for take in ${takes//,/ }; do
    [ -e "$recordings/${1}_${enroll_speaker}_${take}.wav" ] \
      || { echo "$prog: no $recordings/${1}_${enroll_speaker}_${take}.wav" >&2; exit 1; }
    echo "$recordings/${1}_${enroll_speaker}_${take}.wav"
  done
}

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done"
init=()
[ -n "$init_encoder" ] && init=("train.init_encoder=$init_encoder")
log "held-out $test_speakers; new words $new_words enrolled from $enroll_speaker's takes $takes"

if run_stage 1 "manifests: $test_speakers in test; without $new_words for the base model"; then
  asr prepare fsdd "$data_dir" --out "$data/all" --test-speakers "$test_speakers"
  mkdir -p "$data/base"
  for part in train valid test; do
    python3 - "$data/all/$part.jsonl" "$new_words" > "$data/base/$part.jsonl" <<'EOF'
import json, sys
new = set(sys.argv[2].split(","))
for line in open(sys.argv[1]):
    if line.strip() and json.loads(line)["word"] not in new:
        print(line, end="")
EOF
  done
  done_stage 1
fi

if run_stage 2 "train the base model without $new_words ($config)"; then
  asr train --data "$data/base" --exp "$exp/base" --config "$config" ${init[@]+"${init[@]}"} \
    $( [ -e "$exp/base/last.pt" ] && echo --resume )
  done_stage 2
fi

if run_stage 3 "train the anchor on all the words ($config)"; then
  asr train --data "$data/all" --exp "$exp/all" --config "$config" ${init[@]+"${init[@]}"} \
    $( [ -e "$exp/all/last.pt" ] && echo --resume )
  done_stage 3
fi

# enroll_into DIR FROM OPTIONS...: DIR becomes a copy of the checkpoints of FROM with the new words
enroll_into() {
  local target=$1 from=$2 word
  shift 2
  mkdir -p "$target"
  for f in best.pt last.pt config.yaml results.json; do
    [ -e "$from/$f" ] && cp "$from/$f" "$target/$f"
  done
  for word in ${new_words//,/ }; do
    # shellcheck disable=SC2046
    asr enroll --exp "$target" --word "$word" "$@" $(examples "$word")
  done
}

if run_stage 4 "enroll $new_words into a copy of the base model (${enroll_options:-defaults})"; then
  # shellcheck disable=SC2086
  enroll_into "$exp/enrolled" "$exp/base" $enroll_options
  done_stage 4
fi

if run_stage 5 "DTW anchors on MFCCs: dtw1nn (training data + enrolled), qbe (examples only)"; then
  asr train --data "$data/base" --exp "$exp/dtw1nn_base" --config conf/dtw1nn.yaml
  enroll_into "$exp/dtw1nn" "$exp/dtw1nn_base"
  rm -f "$exp"/dtw1nn/*.bak
  words=$(python3 -c 'import json, sys
print(" ".join(sorted({json.loads(l)["word"] for l in open(sys.argv[1]) if l.strip()})))' \
    "$data/all/test.jsonl")
  rm -f "$exp/qbe/best.pt" "$exp/qbe/best.pt.bak"  # this stage's own output, when rerun
  from="--qbe-from $exp/dtw1nn_base"
  for word in $words; do
    # shellcheck disable=SC2046,SC2086
    asr enroll --exp "$exp/qbe" --word "$word" $from $(examples "$word")
    from=""
  done
  done_stage 5
fi

systems=(all enrolled dtw1nn qbe)
if run_stage 6 "score on $test_speakers, one utterance at a time"; then
  for system in "${systems[@]}"; do
    # a system scored before (an interrupted stage) is kept unless --stage forces a rerun
    if [ "$forced" -eq 0 ] && [ -e "$exp/score/$system/eval.json" ]; then
      log "$system: scored before ($exp/score/$system/eval.json)"; continue
    fi
    asr eval --exp "$exp/$system" --manifest "$data/all/test.jsonl" --strict --jobs 1 \
      --out "$exp/score/$system" --format json > /dev/null
  done
  done_stage 6
fi

log "results -> $exp/results.{md,json}"
python3 local/enroll_summary.py --exp "$exp" --new-words "$new_words" \
  --test-speakers "$test_speakers" --enroll-speaker "$enroll_speaker" --takes "$takes" \
  --config "$config" --init-encoder "${init_encoder:-none}" \
  --enroll-options "$enroll_options" --systems "${systems[*]}"
cat "$exp/results.md"
