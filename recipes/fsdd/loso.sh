#!/usr/bin/env bash
# FSDD leave-one-speaker-out: for each speaker S, train on the other speakers and test on every
# recording of S; two TDNN + templates recognizers (MFCC and log-mel front ends), the plain DTW
# 1-NN baseline and the ensemble of the three side by side.
#
#   bash recipes/fsdd/loso.sh [--stage N] [--stop-stage N] [--data-dir DIR]
#                             [--speakers george,jackson,lucas,nicolas,yweweler]
#                             [--config FILE] [--logmel-config FILE] [--nn1-config FILE]
#                             [--eval-speeds 0.9,...,1.1] [--self-exemplars 0.67]
#
# --config: the TDNN + templates (default conf/speaker_independent.yaml); --logmel-config: the
# second TDNN (default conf/speaker_independent_logmel.yaml); --nn1-config: the DTW 1-NN
# baseline (default conf/dtw1nn.yaml); --eval-speeds: every system is scored on these
# speed-perturbed copies of each test utterance, energies averaged (`asr eval --speed`; default
# 0.9,0.95,1,1.05,1.1; give 1 for none). A relative path is read from the caller's folder if
# it is there, else from recipes/fsdd/.
# Stages, for each held-out speaker S (markers exp/si_S/.done/loso-stageN, apart from run.sh's
# stageN of `run.sh --test-speakers S`, which shares data/si_S and exp/si_S/train; a rerun skips
# what is finished; --stage N reruns stages N..stop-stage whatever their markers):
#   0  download FSDD into downloads/ (once; skipped when --data-dir is given)
#   1  prepare manifests, S in test only   -> data/si_S/{train,valid,test}.jsonl
#   2  train the TDNN + templates          -> exp/si_S/train/
#   3  train the log-mel TDNN + templates  -> exp/si_S/train_logmel/
#   4  the DTW 1-NN baseline               -> exp/si_S/dtw1nn/
#   5  evaluate the three (final epoch, --eval-speeds), their ensemble, and the ensemble adapted
#      to S with S's own confident answers (`asr eval --self-exemplars`, --self-exemplars F)
#                      -> exp/si_S/{train,train_logmel,dtw1nn,ensemble,adapted}/eval.json
# Last (always): the table, one row per speaker and the mean -> exp/loso/summary.{md,json}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=fsdd
. "$here/../lib/stages.sh"

marker=loso-stage
data_dir=""
speakers="george,jackson,lucas,nicolas,yweweler"
config=""  # default conf/speaker_independent.yaml
logmel_config=""  # default conf/speaker_independent_logmel.yaml
nn1_config=""  # default conf/dtw1nn.yaml
eval_speeds="0.9,0.95,1,1.05,1.1"
self_exemplars=0.67

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --speakers) need_value "$@"; speakers="$2"; shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --logmel-config) need_value "$@"; logmel_config="$2"; shift 2 ;;
    --nn1-config) need_value "$@"; nn1_config="$2"; shift 2 ;;
    --eval-speeds) need_value "$@"; eval_speeds="$2"; shift 2 ;;
    --self-exemplars) need_value "$@"; self_exemplars="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "${speakers//,/}" ] || usage_error "--speakers: give at least one speaker"
[ -n "${eval_speeds//,/}" ] || usage_error "--eval-speeds: give at least one speed (1: none)"
speed_args=()
for v in ${eval_speeds//,/ }; do speed_args+=(--speed "$v"); done
# paths given on the command line are relative to where the recipe was started
[ -n "$data_dir" ] && data_dir=$(abs_dir "$data_dir" --data-dir)
from_caller config logmel_config nn1_config
cd "$here"
[ -n "$config" ] || config=conf/speaker_independent.yaml
[ -n "$logmel_config" ] || logmel_config=conf/speaker_independent_logmel.yaml
[ -n "$nn1_config" ] || nn1_config=conf/dtw1nn.yaml
require_asr "run 'make loso' from the repo root"

if [ -z "$data_dir" ]; then
  data_dir=downloads/fsdd
  exp=exp/loso
  mkdir -p "$exp/.done"
  if run_stage 0 "download FSDD"; then
    asr download fsdd downloads
    done_stage 0
  fi
fi

for s in ${speakers//,/ }; do
  data=data/si_$s
  exp=exp/si_$s
  mkdir -p "$exp/.done"
  log "held-out speaker $s"

  if run_stage 1 "prepare manifests from $data_dir, $s in test"; then
    asr prepare fsdd "$data_dir" --out "$data" --test-speakers "$s"
    done_stage 1
  fi

  if run_stage 2 "train the TDNN + templates ($config)"; then
    asr train --data "$data" --exp "$exp/train" --config "$config" $( [ -e "$exp/train/last.pt" ] && echo --resume )
    done_stage 2
  fi

  if run_stage 3 "train the log-mel TDNN + templates ($logmel_config)"; then
    asr train --data "$data" --exp "$exp/train_logmel" --config "$logmel_config" \
      $( [ -e "$exp/train_logmel/last.pt" ] && echo --resume )
    done_stage 3
  fi

  if run_stage 4 "DTW 1-NN baseline ($nn1_config)"; then
    asr train --data "$data" --exp "$exp/dtw1nn" --config "$nn1_config"
    done_stage 4
  fi

  # The final model of the (cosine) schedule is scored, not the best by validation: validation
  # here is the training speakers' other takes, 98.5-100% from a few epochs on, which cannot
  # tell which epoch generalizes best to a new speaker (over five configurations, the last
  # epoch's mean was 0.6 points above the best-by-validation one's: -0.4 to +1.1).
  if run_stage 5 "evaluate the final models on $data/test.jsonl: the TDNNs, DTW 1-NN, ensemble"; then
    for system in train train_logmel dtw1nn; do
      asr eval --exp "$exp/$system" --which last "${speed_args[@]}" --format json >/dev/null
    done
    asr eval --exp "$exp/train" --exp "$exp/train_logmel" --exp "$exp/dtw1nn" --which last \
      "${speed_args[@]}" --out "$exp/ensemble" --format json >/dev/null
    asr eval --exp "$exp/train" --exp "$exp/train_logmel" --exp "$exp/dtw1nn" --which last \
      "${speed_args[@]}" --self-exemplars "$self_exemplars" --out "$exp/adapted" \
      --format json >/dev/null
    done_stage 5
  fi
done

log "summary -> exp/loso/summary.{md,json}"
python3 local/loso_summary.py --speakers "$speakers" --config "$config" \
  --logmel-config "$logmel_config" --nn1-config "$nn1_config" --exp exp --out exp/loso
