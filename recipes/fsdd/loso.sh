#!/usr/bin/env bash
# FSDD leave-one-speaker-out with nested validation: for each held-out speaker S, every setting
# (each TDNN's number of epochs, the experts' weights) is chosen on a validation speaker V, another
# training speaker, never on S; the final system is then scored on every recording of S one
# utterance at a time, as a deployed recognizer meets a new voice.
#
#   bash recipes/fsdd/loso.sh [--stage N] [--stop-stage N] [--data-dir DIR]
#                             [--speakers george,jackson,lucas,nicolas,yweweler]
#                             [--valid-speaker V] [--config FILE] [--logmel-config FILE]
#                             [--nn1-config FILE] [--eval-speeds 0.9,...,1.1] [--order-seed N]
#                             [--retrain true|false] [--pretrain-data DIR|none]
#                             [--pretrain-epochs N] [--nn1-priors 10,30,100]
#                             [--extra-voices DIR|none] [--own-exemplars 2,5,10|none]
#
# --speakers: the held-out speakers, one fold each (any speakers of DIR, which has FSDD's layout).
# --valid-speaker: V for every fold (default: the speaker after S in DIR's sorted speaker list,
# cyclically). --config / --logmel-config / --nn1-config: the three experts (default
# conf/speaker_independent.yaml, conf/speaker_independent_logmel.yaml, conf/dtw1nn.yaml; a
# relative path is read from the caller's folder if it is there, else from recipes/fsdd/).
# --eval-speeds: each expert's energies are averaged over these speed-perturbed copies of each
# utterance (`asr eval --speed`; default 0.9,0.95,1,1.05,1.1; 1 for none). --order-seed: the
# order in which S's utterances reach the online recognizer (default 0). --retrain: true (the
# default) retrains the TDNNs on all the training speakers, V included, for the number of epochs
# chosen on V (twice the training time, one more speaker); false keeps the experts trained
# without V, each TDNN at its best epoch on V.
# --pretrain-data: a corpus in Arabic Speech Commands' layout (24 speakers of another language)
# on which each TDNN expert is first trained for --pretrain-epochs (default 12), with its own
# config and front end; every fold's TDNN then starts from it (train.init_encoder) and its
# templates are initialized through it. Four training speakers are few: the pretrained G_W has
# heard 24 more voices. Default: ../shared/data/arabic_speech_commands beside the repository
# when it is there, else none (no pretraining).
# --extra-voices: a Speech Commands folder (its own layout and split lists) whose zero ... nine
# clips of its train and validation lists (local/extra_voices.py) are added to every fold's
# training data as digits "0" ... "9", each of its speakers a speaker of his own: more voices
# for the TDNNs and exemplars for the 1-NN. Default: ../shared/data/speech_commands_sample beside
# the repository when it is there (78 clips of 19 speakers), else none.
# --own-exemplars: the candidate K of the online own-exemplar expert (asr eval --online
# --own-exemplars K: per word, the speaker's K most confidently answered earlier utterances as
# DTW exemplars), chosen on V online with its weight (0.5, 1, 2), or none if none helps there,
# together with the normalization (online CMVN state, or each utterance on its own:
# --no-cmvn-state); none: never (the online system is the online CMVN state alone).
# --nn1-priors: the weights (frames) of the training prior in the DTW 1-NN's speaker CMVN tried
# on V, one utterance at a time; the best is the 1-NN's train.prior_frames (a smaller weight
# lets a lone utterance's own mean count more).
# Stages, for each held-out speaker S (markers exp/si_S/.done/loso-stageN; a rerun skips what is
# finished; --stage N reruns stages N..stop-stage whatever their markers):
#   0  once for all folds (markers in exp/loso/.done/): download FSDD into downloads/ (skipped
#      when --data-dir is given); pretrain the MFCC and log-mel TDNNs on --pretrain-data
#                                                               -> exp/pretrain/{train,train_logmel}/
#   1  manifests: data/si_S/select (train: the others but V, valid: V, test: S) and
#      data/si_S/final (train and valid: every speaker but S, test: S); the --extra-voices
#      clips are appended to both train.jsonl
#   2  train the MFCC TDNN on select, best epoch on V          -> exp/si_S/select/train/
#   3  train the log-mel TDNN on select, best epoch on V       -> exp/si_S/select/train_logmel/
#   4  the DTW 1-NN on select, its prior weight chosen on V     -> exp/si_S/select/dtw1nn/,
#                                                                  dtw1nn_prior.json
#   5  choose on V (one utterance at a time, --eval-speeds): the experts' weights; then, with
#      them, V met online (--order-seed): online CMVN state or not, own-exemplar expert or not
#                                                               -> exp/si_S/select/choice.json
#   6  the final experts on data/si_S/final (TDNNs retrained for their chosen epochs; with
#      --retrain false the experts of stages 2-4)               -> exp/si_S/final/{train,...}/
#   7  score the final system on S:
#        exp/si_S/online/eval.json        each utterance on its own (strict: the headline)
#        exp/si_S/online_state/eval.json  with S's online state from his earlier utterances
#                                         only, in a seeded random order (--online: as V chose,
#                                         the CMVN state and/or his own exemplars)
#        exp/si_S/online_cmvn/eval.json   the same with the online CMVN state only
#        exp/si_S/batch/eval.json         transductive: S's mean over all his recordings first
#        exp/si_S/strict/<expert>/eval.json   each expert alone, strict
# Last (always): the table, one row per speaker and the mean -> exp/loso/summary.{md,json}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=fsdd
. "$here/../lib/stages.sh"

marker=loso-stage
data_dir=""
speakers="george,jackson,lucas,nicolas,yweweler"
valid_speaker=""
config=""  # default conf/speaker_independent.yaml
logmel_config=""  # default conf/speaker_independent_logmel.yaml
nn1_config=""  # default conf/dtw1nn.yaml
eval_speeds="0.9,0.95,1,1.05,1.1"
order_seed=0
retrain=true
pretrain_data=default
pretrain_epochs=12
nn1_priors="10,30,100"
extra_voices=default
own_exemplars="2,5,10"

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --speakers) need_value "$@"; speakers="$2"; shift 2 ;;
    --valid-speaker) need_value "$@"; valid_speaker="$2"; shift 2 ;;
    --config) need_value "$@"; config="$2"; shift 2 ;;
    --logmel-config) need_value "$@"; logmel_config="$2"; shift 2 ;;
    --nn1-config) need_value "$@"; nn1_config="$2"; shift 2 ;;
    --eval-speeds) need_value "$@"; eval_speeds="$2"; shift 2 ;;
    --order-seed) need_value "$@"; order_seed="$2"; shift 2 ;;
    --retrain) need_value "$@"; retrain="$2"; shift 2 ;;
    --pretrain-data) need_value "$@"; pretrain_data="$2"; shift 2 ;;
    --pretrain-epochs) need_value "$@"; pretrain_epochs="$2"; shift 2 ;;
    --nn1-priors) need_value "$@"; nn1_priors="$2"; shift 2 ;;
    --extra-voices) need_value "$@"; extra_voices="$2"; shift 2 ;;
    --own-exemplars) need_value "$@"; own_exemplars="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "${speakers//,/}" ] || usage_error "--speakers: give at least one speaker"
[ -n "${eval_speeds//,/}" ] || usage_error "--eval-speeds: give at least one speed (1: none)"
[ -n "${nn1_priors//,/}" ] || usage_error "--nn1-priors: give at least one weight"
case "$own_exemplars" in none) ;; ''|,*|*,|*,,*|*[!0-9,]*)
  usage_error "--own-exemplars: comma-separated positive integers, or none" ;; esac
case "$retrain" in true|false) ;; *) usage_error "--retrain: true or false, not '$retrain'" ;; esac
case "$order_seed" in ''|*[!0-9]*) usage_error "--order-seed: a non-negative integer" ;; esac
case "$pretrain_epochs" in ''|0|*[!0-9]*) usage_error "--pretrain-epochs: a positive integer" ;;
esac
if [ "$pretrain_data" = default ]; then
  pretrain_data=$(shared_data arabic_speech_commands)
  [ -n "$pretrain_data" ] || pretrain_data=none
elif [ "$pretrain_data" != none ]; then
  pretrain_data=$(abs_dir "$pretrain_data" --pretrain-data)
fi
if [ "$extra_voices" = default ]; then
  extra_voices=$(shared_data speech_commands_sample)
  [ -n "$extra_voices" ] || extra_voices=none
elif [ "$extra_voices" != none ]; then
  extra_voices=$(abs_dir "$extra_voices" --extra-voices)
fi
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

exp=exp/loso
mkdir -p "$exp/.done"
if [ -z "$data_dir" ]; then
  data_dir=downloads/fsdd
  if run_stage 0 "download FSDD"; then
    asr download fsdd downloads
    done_stage 0
  fi
fi

# stage 0, pretraining: each TDNN expert on --pretrain-data with its own config; the folds'
# TDNNs start from it (init_dir: train.init_encoder)
declare -A init_dir=([train]="" [train_logmel]="")
if [ "$pretrain_data" != none ]; then
  marker=loso-pretrain-stage
  if run_stage 0 "pretrain the TDNNs on $pretrain_data ($pretrain_epochs epochs)"; then
    asr prepare arabic-speech-commands "$pretrain_data" --out data/pretrain
    for system in train train_logmel; do
      conf=$config
      [ "$system" = train_logmel ] && conf=$logmel_config
      # no channel offsets: its 24 speakers bring their own channels
      asr train --data data/pretrain --exp "exp/pretrain/$system" --config "$conf" \
        "train.epochs=$pretrain_epochs" "${pretrain_overrides[@]}" train.channel_offset=0 \
        $(pretrain_templates "$conf") \
        $( [ -e "exp/pretrain/$system/last.pt" ] && echo --resume )
    done
    done_stage 0
  fi
  marker=loso-stage
  for system in train train_logmel; do
    init_dir[$system]=$here/exp/pretrain/$system
  done
else
  log "no pretraining corpus (--pretrain-data): the TDNNs start from random weights"
fi

# the validation speaker of held-out speaker $1: --valid-speaker, else the next one in the
# corpus's sorted speaker list (cyclically)
pick_valid() {
  if [ -n "$valid_speaker" ]; then echo "$valid_speaker"; return; fi
  python3 - "$data_dir" "$1" <<'EOF'
import re, sys
from pathlib import Path
root, held = Path(sys.argv[1]), sys.argv[2]
folder = root / "recordings" if (root / "recordings").is_dir() else root
names = {m[1] for p in folder.iterdir() if (m := re.match(r"^\d_([^_]+)_\d+\.wav$", p.name))}
speakers = sorted(names)
if held not in speakers or len(speakers) < 3:
    sys.exit(f"loso.sh: held-out speaker {held!r}: need it and two more speakers in {folder}")
print(speakers[(speakers.index(held) + 1) % len(speakers)])
EOF
}

systems=(train train_logmel dtw1nn)
for s in ${speakers//,/ }; do
  exp=exp/si_$s
  mkdir -p "$exp/.done"
  v=$(pick_valid "$s")
  log "held-out speaker $s, validation speaker $v"

  if run_stage 1 "prepare manifests from $data_dir: $s in test, $v in validation"; then
    asr prepare fsdd "$data_dir" --out "data/si_$s/select" --test-speakers "$s" \
      --valid-speakers "$v"
    asr prepare fsdd "$data_dir" --out "data/si_$s/final" --test-speakers "$s"
    if [ "$extra_voices" != none ]; then
      python3 local/extra_voices.py "$extra_voices" "data/si_$s/extra_voices.jsonl"
      for part in select final; do
        cat "data/si_$s/extra_voices.jsonl" >> "data/si_$s/$part/train.jsonl"
      done
    fi
    done_stage 1
  fi

  select=data/si_$s/select
  if run_stage 2 "train the MFCC TDNN without $v ($config)"; then
    asr train --data "$select" --exp "$exp/select/train" --config "$config" \
      ${init_dir[train]:+"train.init_encoder=${init_dir[train]}"} \
      $( [ -e "$exp/select/train/last.pt" ] && echo --resume )
    done_stage 2
  fi

  if run_stage 3 "train the log-mel TDNN without $v ($logmel_config)"; then
    asr train --data "$select" --exp "$exp/select/train_logmel" --config "$logmel_config" \
      ${init_dir[train_logmel]:+"train.init_encoder=${init_dir[train_logmel]}"} \
      $( [ -e "$exp/select/train_logmel/last.pt" ] && echo --resume )
    done_stage 3
  fi

  if run_stage 4 "DTW 1-NN without $v ($nn1_config), prior weight chosen on $v"; then
    best_prior="" best_accuracy=-1
    for prior in ${nn1_priors//,/ }; do
      tried=$exp/select/dtw1nn_prior$prior
      asr train --data "$select" --exp "$tried" --config "$nn1_config" --quiet \
        "train.prior_frames=$prior"
      asr eval --exp "$tried" --manifest "$select/valid.jsonl" --strict --out "$tried/valid" \
        --format json >/dev/null
      accuracy=$(json_get "$tried/valid/valid-eval.json" accuracy)
      log "DTW 1-NN, prior weight $prior frames: $accuracy on $v"
      if python3 -c 'import sys; sys.exit(float(sys.argv[1]) <= float(sys.argv[2]))' \
          "$accuracy" "$best_accuracy"; then
        best_prior=$prior best_accuracy=$accuracy
      fi
    done
    asr train --data "$select" --exp "$exp/select/dtw1nn" --config "$nn1_config" --quiet \
      "train.prior_frames=$best_prior"
    printf '{"prior_frames": %s, "validation_accuracy": %s, "validation_speaker": "%s"}\n' \
      "$best_prior" "$best_accuracy" "$v" > "$exp/select/dtw1nn_prior.json"
    done_stage 4
  fi

  if run_stage 5 "choose the experts' weights on $v, one utterance at a time"; then
    asr pick-weights --exp "$exp/select/train" --exp "$exp/select/train_logmel" \
      --exp "$exp/select/dtw1nn" --manifest "$select/valid.jsonl" "${speed_args[@]}" \
      $( [ "$own_exemplars" != none ] && echo --own-exemplars "$own_exemplars" \
         --order-seed "$order_seed" ) \
      --out "$exp/select/choice.json"
    done_stage 5
  fi

  if [ "$retrain" = true ]; then
    final=$exp/final
    which=last
  else
    final=$exp/select
    which=best
  fi
  if run_stage 6 "final experts (retrain: $retrain)"; then
    if [ "$retrain" = true ]; then
      for system in train train_logmel; do
        conf=$config
        [ "$system" = train_logmel ] && conf=$logmel_config
        epochs=$(json_get "$exp/select/$system/results.json" valid.best_epoch)
        [ "$epochs" -ge 1 ] || epochs=1
        log "retraining $system on every speaker but $s for $epochs epochs (best on $v)"
        asr train --data "data/si_$s/final" --exp "$final/$system" --config "$conf" \
          "train.epochs=$epochs" \
          ${init_dir[$system]:+"train.init_encoder=${init_dir[$system]}"} \
          $( [ -e "$final/$system/last.pt" ] && echo --resume )
      done
      asr train --data "data/si_$s/final" --exp "$final/dtw1nn" --config "$nn1_config" \
        "train.prior_frames=$(json_get "$exp/select/dtw1nn_prior.json" prior_frames)"
    fi
    done_stage 6
  fi

  if run_stage 7 "score the final system on $s: strict, online, batch"; then
    weights=$(json_get "$exp/select/choice.json" weights)
    members=() weight_args=()
    for system in "${systems[@]}"; do members+=(--exp "$final/$system"); done
    for w in $weights; do weight_args+=(--weight "$w"); done
    test=data/si_$s/final/test.jsonl
    for system in "${systems[@]}"; do
      asr eval --exp "$final/$system" --which "$which" --manifest "$test" --strict \
        "${speed_args[@]}" --out "$exp/strict/$system" --format json >/dev/null
    done
    asr eval "${members[@]}" "${weight_args[@]}" --which "$which" --manifest "$test" --strict \
      "${speed_args[@]}" --out "$exp/online" --format json >/dev/null
    asr eval "${members[@]}" "${weight_args[@]}" --which "$which" --manifest "$test" --online \
      --order-seed "$order_seed" "${speed_args[@]}" --out "$exp/online_cmvn" \
      --format json >/dev/null
    own_args=()
    own_k=$(json_get "$exp/select/choice.json" online.own_exemplars 2>/dev/null || true)
    if [ -n "$own_k" ] && [ "$own_k" != None ]; then
      own_args=(--own-exemplars "$own_k" --own-weight
                "$(json_get "$exp/select/choice.json" online.own_weight)")
    fi
    if [ "$(json_get "$exp/select/choice.json" online.cmvn_state 2>/dev/null || true)" = False ]
    then
      own_args+=(--no-cmvn-state)
    fi
    asr eval "${members[@]}" "${weight_args[@]}" --which "$which" --manifest "$test" --online \
      --order-seed "$order_seed" "${speed_args[@]}" "${own_args[@]}" \
      --out "$exp/online_state" --format json >/dev/null
    asr eval "${members[@]}" "${weight_args[@]}" --which "$which" --manifest "$test" \
      "${speed_args[@]}" --out "$exp/batch" --format json >/dev/null
    done_stage 7
  fi
done

log "summary -> exp/loso/summary.{md,json}"
python3 local/loso_summary.py --speakers "$speakers" --pretrain-data "$pretrain_data" \
  --config "$config" \
  --logmel-config "$logmel_config" --nn1-config "$nn1_config" --exp exp --out exp/loso
