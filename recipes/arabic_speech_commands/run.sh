#!/usr/bin/env bash
# Arabic Speech Commands recipe (Ghandoura et al. 2021): 40 keywords, 1-second 16 kHz clips.
#
#   bash recipes/arabic_speech_commands/run.sh [--stage N] [--stop-stage N] [--data-dir DIR]
#                                              [--config FILE] [--logmel-config FILE|none]
#                                              [--eval-speeds 0.9,1,1.1] [--dtw-config FILE]
#                                              [--dtw-takes N] [--exemplars N] [--tag NAME]
#                                              [--nproc N]
#
# The corpus's own protocol: train on the official train speakers, select the model on the
# official validation speakers, report the validation speakers and (with a full download) the
# official test speakers. Every figure is strict: each clip scored on its own.
# --config: the recognizer (default conf/default.yaml, MFCC). --logmel-config: a second expert
# on another front end (default conf/logmel.yaml, 40 log-mel energies; none: only the first),
# trained beside the first (two processes of one thread each when --nproc is 1), and the
# product of the two experts (`asr eval --exp A --exp B`, equal weights: nothing is fitted on
# the validation speakers) scored at the test-time speeds --eval-speeds (each expert's energies
# averaged over these speed-perturbed copies of a clip; 1 for none). The ensemble costs twice
# the training and 2 x (number of speeds) the recognition work of the first expert alone.
# --exemplars N: each trained expert also gets an exemplar expert, exemplars_<expert>: N train
# clips per word (default 200, every clip of this corpus; 0: none) encoded by the expert's
# trained TDNN G_W become its templates, untrained (asr train with train.init_encoder and 0
# epochs), so that its energy is the DTW 1-NN in the learned space:
# E(y, X) = min over exemplars v of y of DTW(G_W(X), G_W(X_v)). With 18 training voices the
# exemplars keep voices that 8 templates per word average away; ensemble_exemplars is the
# product of the trained experts and their exemplar experts (equal weights). Costs: no
# training, about a minute per expert to encode the clips, and a DTW with every exemplar (7,200
# here) for every clip recognized, about 6x the recognition work of a trained expert.
# --nproc N: train in N data-parallel processes of one thread each (`asr train --nproc`; the
# same model as one process, up to float rounding and dropout masks). Default 1: on 2 free cores
# two processes took 7 min 44 s for the whole training command against 8 min 24 s for one
# process of two threads, but held 4.8 GB in all against 1.3 GB (README.md of this recipe).
# Stages (markers in $exp/.done/ make a rerun skip finished stages; nothing is ever deleted):
#   0  download the corpus into downloads/ (skipped when --data-dir is given)
#   1  prepare manifests by the official split      -> data/$tag/{train,valid,test}.jsonl
#   2  train the TDNN + templates (--config)        -> exp/$tag/train/
#      and the second expert (--logmel-config)      -> exp/$tag/train_logmel/
#      then each one's exemplar expert (--exemplars) -> exp/$tag/exemplars_train{,_logmel}/
#   3  evaluate each on valid (and test, if any)    -> exp/$tag/train/valid-eval.json,
#                                                      valid-confusion.png (40 x 40), eval.txt
#      and their product at --eval-speeds           -> exp/$tag/ensemble/valid-eval.json
#      and with the exemplar experts            -> exp/$tag/ensemble_exemplars/valid-eval.json
#   4  the plain DTW 1-NN baseline on the same split -> exp/$tag/dtw1nn/, valid-eval.json
#      (exemplars: takes 1..N of every train speaker and word, --dtw-takes N, default 2 of 10;
#      --dtw-takes 10 uses all 7,200, about 10 min on one core)
#   5  alignment picture of one validation clip    -> exp/$tag/align.png, align.json
#   6  results table of both systems               -> exp/$tag/results.md, results.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=arabic_speech_commands
. "$here/../lib/stages.sh"

data_dir=""
config=""  # default conf/default.yaml
logmel_config=""  # default conf/logmel.yaml
eval_speeds="0.9,1,1.1"
dtw_config=""  # default conf/dtw1nn.yaml
dtw_takes=2
exemplars=200
tag=""
nproc=1
while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --logmel-config) need_value "$@"; logmel_config="$2"; shift 2 ;;
    --eval-speeds) need_value "$@"; eval_speeds="$2"; shift 2 ;;
    --dtw-config) need_value "$@"; dtw_config="$2"; shift 2 ;;
    --dtw-takes) need_value "$@"; dtw_takes="$2"; shift 2 ;;
    --exemplars) need_value "$@"; exemplars="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    --nproc) need_value "$@"; nproc="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
case "$dtw_takes" in [1-9]|10) ;; *) usage_error "--dtw-takes must be 1..10, got '$dtw_takes'" ;; esac
case "$nproc" in ''|0|*[!0-9]*) usage_error "--nproc: a positive integer, got '$nproc'" ;; esac
case "$exemplars" in
  ''|*[!0-9]*) usage_error "--exemplars: clips per word (0: none), got '$exemplars'" ;;
esac
[ -n "${eval_speeds//,/}" ] || usage_error "--eval-speeds: give at least one speed (1: none)"
parallel=()  # one thread per process when there are several
[ "$nproc" -gt 1 ] && parallel=(--nproc "$nproc" train.threads=1)
[ -n "$data_dir" ] && data_dir=$(abs_dir "$data_dir" --data-dir)
[ "$logmel_config" = none ] || from_caller logmel_config
from_caller config dtw_config
cd "$here"
[ -n "$config" ] || config=conf/default.yaml
[ -n "$logmel_config" ] || logmel_config=conf/logmel.yaml
[ -n "$dtw_config" ] || dtw_config=conf/dtw1nn.yaml
[ -n "$tag" ] || tag=official
require_asr "run 'make asc' from the repo root"

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done"

if [ -z "$data_dir" ]; then
  data_dir=downloads/arabic_speech_commands
  if run_stage 0 "download Arabic Speech Commands"; then
    asr download arabic-speech-commands downloads
    done_stage 0
  fi
fi

if run_stage 1 "prepare manifests from $data_dir (official split)"; then
  asr prepare arabic-speech-commands "$data_dir" --out "$data"
  done_stage 1
fi

# the parts that hold clips: valid always, test only with the official test speakers on disk
parts=valid
[ -s "$data/test.jsonl" ] && parts="valid test"

# the experts: system name (its folder under $exp) -> config
systems=(train)
declare -A expert_config=([train]=$config)
if [ "$logmel_config" != none ]; then
  systems+=(train_logmel)
  expert_config[train_logmel]=$logmel_config
fi

# the exemplar experts: one per trained expert, unless --exemplars 0
exemplar_systems=()
if [ "$exemplars" -gt 0 ]; then
  for system in "${systems[@]}"; do exemplar_systems+=("exemplars_$system"); done
fi
# build_exemplars: each exemplar expert not built yet (a tree trained before --exemplars existed
# gets them when stage 3 runs): the trained expert's G_W, every train clip a template, no training
build_exemplars() {
  for system in ${exemplar_systems[@]+"${exemplar_systems[@]}"}; do
    [ -f "$exp/$system/best.pt" ] && continue
    trained=$exp/${system#exemplars_}
    [ -f "$trained/best.pt" ] || { log "$trained/best.pt is missing: run stage 2 first"; exit 1; }
    log "$system: $exemplars train clips per word through $trained's G_W as exemplars"
    asr train --data "$data" --exp "$exp/$system" --config "$trained/config.yaml" --quiet \
      "train.init_encoder=$here/$trained" train.epochs=0 train.threads=2 \
      "model.templates_per_word=$exemplars" "model.init_max_utterances=$exemplars"
  done
}

# train_expert SYSTEM [OVERRIDE...]: asr train of one expert, resumed when it was interrupted
train_expert() {
  local system=$1; shift
  asr train --data "$data" --exp "$exp/$system" --config "${expert_config[$system]}" "$@" \
    $( [ -e "$exp/$system/last.pt" ] && echo --resume )
}

if run_stage 2 "train ${systems[*]} (${expert_config[*]})"; then
  if [ "${#systems[@]}" -gt 1 ] && [ "$nproc" -eq 1 ]; then
    # side by side, one thread each (on 2 cores, faster than one after the other with two
    # threads each); every line of progress is prefixed with its expert's name
    pids=()
    for system in "${systems[@]}"; do
      train_expert "$system" train.threads=1 train.jobs=1 2>&1 | sed -u "s/^/[$system] /" &
      pids+=($!)
    done
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" -eq 0 ] || { log "training failed (see the lines above)"; exit 1; }
  else
    for system in "${systems[@]}"; do train_expert "$system" ${parallel[@]+"${parallel[@]}"}; done
  fi
  build_exemplars
  done_stage 2
fi

speed_args=()
for speed in ${eval_speeds//,/ }; do speed_args+=(--speed "$speed"); done
members=()
for system in "${systems[@]}"; do members+=(--exp "$exp/$system"); done
exemplar_members=()
for system in ${exemplar_systems[@]+"${exemplar_systems[@]}"}; do
  exemplar_members+=(--exp "$exp/$system")
done
all_systems=("${systems[@]}" ${exemplar_systems[@]+"${exemplar_systems[@]}"})

if run_stage 3 "evaluate ${all_systems[*]} on: $parts"; then
  build_exemplars
  for part in $parts; do
    for system in "${all_systems[@]}"; do
      echo "== $system, $part"
      asr eval --exp "$exp/$system" --manifest "$data/$part.jsonl" --format table
    done
    if [ "${#systems[@]}" -gt 1 ]; then
      echo "== ensemble (${systems[*]}, speeds $eval_speeds), $part"
      asr eval "${members[@]}" --out "$exp/ensemble" "${speed_args[@]}" \
        --manifest "$data/$part.jsonl" --format table
    fi
    if [ "${#exemplar_members[@]}" -gt 0 ]; then
      echo "== ensemble_exemplars (${all_systems[*]}, speeds $eval_speeds), $part"
      asr eval "${members[@]}" "${exemplar_members[@]}" --out "$exp/ensemble_exemplars" \
        "${speed_args[@]}" --manifest "$data/$part.jsonl" --format table
    fi
  done | tee "$exp/eval.txt"
  done_stage 3
fi

if run_stage 4 "plain DTW 1-NN ($dtw_config, takes 1-$dtw_takes as exemplars) on: $parts"; then
  python3 local/subset_takes.py "$data" "$data/dtw1nn_takes$dtw_takes" --takes "$dtw_takes"
  asr train --data "$data/dtw1nn_takes$dtw_takes" --exp "$exp/dtw1nn" --config "$dtw_config"
  for part in $parts; do
    asr eval --exp "$exp/dtw1nn" --manifest "$data/$part.jsonl" --format table
  done | tee "$exp/eval_dtw1nn.txt"
  done_stage 4
fi

if run_stage 5 "alignment picture of one validation clip"; then
  utterance=$(first_utterance "$data/valid.jsonl")
  asr align --exp "$exp/train" "$utterance" --out "$exp/align.png" --json "$exp/align.json"
  done_stage 5
fi

if run_stage 6 "results table"; then
  summary_systems=("${all_systems[@]}")
  [ "${#systems[@]}" -gt 1 ] && summary_systems+=(ensemble)
  [ "${#exemplar_systems[@]}" -gt 0 ] && summary_systems+=(ensemble_exemplars)
  python3 local/summary.py "$exp" --systems "${summary_systems[@]}" dtw1nn --parts $parts
  done_stage 6
fi

[ -e "$exp/results.md" ] && { log "results:"; cat "$exp/results.md"; }
log "pictures: $(ls "$exp"/*.png "$exp"/*/*.png 2>/dev/null | tr '\n' ' ')"
