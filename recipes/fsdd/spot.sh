#!/usr/bin/env bash
# FSDD keyword spotting: the ten digits found in long noisy recordings of a held-out speaker.
#
#   bash recipes/fsdd/spot.sh --data-dir DIR --fillers-dir DIR [--test-speakers S]
#                             [--enroll-speaker S] [--snr DB] [--rate R] [--seed N]
#                             [--test-clips N] [--train-fillers N] [--score-norm NORM]
#                             [--pretrain-epochs N] [--extra-voices DIR|none]
#                             [--stage N] [--stop-stage N] [--tag NAME]
#
# --data-dir: FSDD (its recordings/); --fillers-dir: a <word>/<file> corpus of non-keyword
# speech (e.g. ../shared/data/arabic_speech_commands), split by speaker: --train-fillers clips
# of its train speakers are the <filler> class the model is trained against (default 1800),
# its validation speakers' clips the negatives that the thresholds are calibrated on, its test
# speakers' clips the non-keyword speech of the test stream (no audio of the test stream is
# used to set anything). --test-clips: keyword clips in the test stream (default 1000: each of
# a speaker's 500 clips about twice, about 80 minutes, so that a few false alarms per hour can
# be measured). --score-norm: none, background or competitor (asr.spotting.engine; default
# background). --rate: false alarms per hour, all words together.
# The spotter is trained like the speaker-independent experts of loso.sh, since the test voice
# is new: its TDNN first learns the words of the fillers' train speakers (--pretrain-epochs,
# default 12; 0: no pretraining; the fillers' validation and test speakers are never heard),
# and --extra-voices (default ../shared/data/speech_commands_sample when it is there; a Speech
# Commands folder whose zero ... nine clips become digits of speakers of their own) add voices.
#
# Stages (markers in $exp/.done/spot-stageN; --stage N reruns N..stop-stage; nothing is deleted):
#   1  prepare manifests: FSDD with S held out (+ extra voices) -> data/spot_S/, fillers ->
#      data/fillers/, FSDD with a <filler> class of the fillers' train speakers
#      -> data/spot_S_fillers/
#   2  pretrain the TDNN on the fillers' train speakers' words -> exp/spot_pretrain/ (once);
#      train conf/spotting.yaml on data/spot_S_fillers from it -> exp/spot_S/train/
#   3  streams: test (speaker S, 10% keywords, 10% other speech, noise at --snr dB),
#      negatives (filler validation speakers)  -> exp/spot_S/streams/{test,negatives,demo}.*
#   4  the QbE anchor: MFCC DTW templates, 3 examples per digit of --enroll-speaker
#                                              -> exp/spot_S/qbe/
#   5  calibrate both at --rate false alarms/hour on the negatives (--score-norm scores)
#   6  spot the test stream with both, score   -> exp/spot_S/score.{txt,json}, det.png, demo.png
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
recipe=fsdd-spot
marker=spot-stage
. "$here/../lib/stages.sh"

data_dir=""
fillers_dir=""
test_speakers=jackson
enroll_speaker=george
snr=20
rate=5
seed=0
test_clips=1000
train_fillers=1800
score_norm=background
pretrain_epochs=12
extra_voices=default
tag=""

while [ $# -gt 0 ]; do
  case "$1" in
    --stage) need_value "$@"; stage="$2"; forced=1; shift 2 ;;
    --stop-stage) need_value "$@"; stop_stage="$2"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$2"; shift 2 ;;
    --fillers-dir) need_value "$@"; fillers_dir="$2"; shift 2 ;;
    --test-speakers) need_value "$@"; test_speakers="$2"; shift 2 ;;
    --enroll-speaker) need_value "$@"; enroll_speaker="$2"; shift 2 ;;
    --snr) need_value "$@"; snr="$2"; shift 2 ;;
    --rate) need_value "$@"; rate="$2"; shift 2 ;;
    --seed) need_value "$@"; seed="$2"; shift 2 ;;
    --test-clips) need_value "$@"; test_clips="$2"; shift 2 ;;
    --train-fillers) need_value "$@"; train_fillers="$2"; shift 2 ;;
    --score-norm) need_value "$@"; score_norm="$2"; shift 2 ;;
    --pretrain-epochs) need_value "$@"; pretrain_epochs="$2"; shift 2 ;;
    --extra-voices) need_value "$@"; extra_voices="$2"; shift 2 ;;
    --tag) need_value "$@"; tag="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[ -n "$data_dir" ] || usage_error "--data-dir DIR (FSDD) is required"
[ -n "$fillers_dir" ] || usage_error "--fillers-dir DIR (non-keyword speech) is required"
data_dir=$(abs_dir "$data_dir" --data-dir)
fillers_dir=$(abs_dir "$fillers_dir" --fillers-dir)
if [ "$extra_voices" = default ]; then
  extra_voices=$(shared_data speech_commands_sample)
  [ -n "$extra_voices" ] || extra_voices=none
elif [ "$extra_voices" != none ]; then
  extra_voices=$(abs_dir "$extra_voices" --extra-voices)
fi
case "$pretrain_epochs" in ''|*[!0-9]*) usage_error "--pretrain-epochs N: a whole number" ;; esac
cd "$here"
[ -n "$tag" ] || tag="spot_${test_speakers//,/_}"
require_asr "activate the repository's .venv"

data=data/$tag
exp=exp/$tag
mkdir -p "$exp/.done" "$exp/streams"

if run_stage 1 "prepare manifests"; then
  asr prepare fsdd "$data_dir" --out "$data" --test-speakers "$test_speakers"
  if [ "$extra_voices" != none ]; then
    python3 local/extra_voices.py "$extra_voices" "$data/extra_voices.jsonl"
    cat "$data/extra_voices.jsonl" >> "$data/train.jsonl"
  fi
  asr prepare folder "$fillers_dir" --out data/fillers
  asr prepare with-fillers "$data" --fillers data/fillers/train.jsonl --out "${data}_fillers" \
    --train "$train_fillers" --valid 200 --seed "$seed"
  done_stage 1
fi

if run_stage 2 "train conf/spotting.yaml"; then
  init=()
  if [ "$pretrain_epochs" -gt 0 ]; then
    pre=exp/spot_pretrain
    if [ ! -e "$pre/.done" ]; then
      log "pretraining the TDNN on the fillers' train speakers ($pretrain_epochs epochs)"
      mkdir -p data/spot_pretrain
      cp data/fillers/train.jsonl data/fillers/valid.jsonl data/spot_pretrain/
      : > data/spot_pretrain/test.jsonl
      # no channel offsets: its speakers bring their own channels
      asr train --data data/spot_pretrain --exp "$pre" --config conf/spotting.yaml \
        "train.epochs=$pretrain_epochs" "${pretrain_overrides[@]}" train.channel_offset=0 \
        train.noise_prob=0 $( [ -e "$pre/last.pt" ] && echo --resume )
      touch "$pre/.done"
    fi
    init=("train.init_encoder=$here/$pre")
  fi
  asr train --data "${data}_fillers" --exp "$exp/train" --config conf/spotting.yaml "${init[@]}" $( [ -e "$exp/train/last.pt" ] && echo --resume )
  done_stage 2
fi

if run_stage 3 "make the test, negative and demo streams"; then
  asr make-stream "$data/test.jsonl" --out "$exp/streams/test" --clips "$test_clips" --fillers data/fillers/test.jsonl --snr "$snr" --seed "$seed"
  asr make-stream data/fillers/valid.jsonl --out "$exp/streams/negatives" --keyword-fraction 0.3 --filler-fraction 0 --snr "$snr" --seed $((seed + 1))
  asr make-stream "$data/test.jsonl" --out "$exp/streams/demo" --clips 8 --keyword-fraction 0.25 --fillers data/fillers/test.jsonl --snr "$snr" --seed $((seed + 2))
  done_stage 3
fi

if run_stage 4 "QbE anchor: 3 examples per digit of $enroll_speaker"; then
  recordings=$data_dir/recordings
  for digit in 0 1 2 3 4 5 6 7 8 9; do
    from=""
    [ "$digit" = 0 ] && from="--qbe-from $exp/train"
    asr enroll --exp "$exp/qbe" --word "$digit" $from "$recordings/${digit}_${enroll_speaker}_10.wav" "$recordings/${digit}_${enroll_speaker}_11.wav" "$recordings/${digit}_${enroll_speaker}_12.wav"
  done
  done_stage 4
fi

if run_stage 5 "calibrate at $rate false alarms/hour on the negatives"; then
  for system in train qbe; do
    asr calibrate --exp "$exp/$system" "$exp/streams/negatives.wav" --false-alarms-per-hour "$rate" --score-norm "$score_norm" --block 64
  done
  done_stage 5
fi

if run_stage 6 "spot the test stream, score"; then
  for system in train qbe; do
    # blocks of 64 frames: the hits of asr listen up to float rounding, 5x faster on a file
    asr spot --exp "$exp/$system" "$exp/streams/test.wav" --format json --block 64 > "$exp/hits_${system}.jsonl"
    asr spot --exp "$exp/$system" "$exp/streams/test.wav" --format json --block 64 --threshold inf --score-norm "$score_norm" > "$exp/hits_${system}_all.jsonl"
  done
  asr score-spotting --ref "$exp/streams/test.json" "$exp/hits_train.jsonl" "$exp/hits_qbe.jsonl" "$exp/hits_train_all.jsonl" "$exp/hits_qbe_all.jsonl" \
    --names tdnn-calibrated,qbe-calibrated,tdnn,qbe --rate "$rate" --det "$exp/det.png" --json "$exp/score.json" | tee "$exp/score.txt"
  asr spot --exp "$exp/train" "$exp/streams/demo.wav" --plot "$exp/demo.png" | tee "$exp/demo.txt"
  done_stage 6
fi

log "results:"
[ -e "$exp/score.txt" ] && cat "$exp/score.txt"
log "pictures: $(ls "$exp"/*.png 2>/dev/null | tr '\n' ' ')"
