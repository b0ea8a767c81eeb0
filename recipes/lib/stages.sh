# Stage helpers shared by the recipes; sourced, never run:  . "$here/../lib/stages.sh"
#
# The script sets, before calling them: here (its own folder), recipe (its name in log lines),
# exp (the experiment folder whose .done/ holds the stage markers) and, from its options, stage,
# stop_stage and forced (1 once --stage N was given), whose defaults are set here (0, 100, 0);
# if it wants other marker names, marker (default "stage": the markers are $exp/.done/stage0,
# stage1, ...).
#
#   usage                 print the comment block at the top of the script, without the '# '
#   usage_error MESSAGE   print "<script>: MESSAGE" on stderr and exit 2 (bad command line)
#   need_value "$@"       usage_error unless the option in $1 is followed by a value
#   abs_dir DIR WHAT      print DIR as an absolute path; usage_error "WHAT DIR: no such
#                         directory" when it is not one (use as x=$(abs_dir "$x" --data-dir))
#   from_caller VAR...    make each named variable holding a relative path that exists from the
#                         caller's folder absolute (call it before cd "$here"); a relative path
#                         not found there is left as is, to be read from the recipe's folder
#   require_asr HINT      exit 1 with "<script>: 'asr' not on PATH (HINT)" unless asr is there
#   log MESSAGE           print "[recipe HH:MM:SS] MESSAGE"
#   run_stage N WHAT      true when stage N is to run now: stage <= N <= stop_stage, and no marker
#                         $exp/.done/<marker>N yet unless forced; logs "stage N: WHAT", or that
#                         it is skipped
#   done_stage N          leave the marker of stage N
#   first_utterance M     print the audio path of the first utterance of manifest M (absolute,
#                         or relative to the caller's folder)
#   json_get FILE KEY.KEY...  print a value of a JSON file (a list as its items, space-separated)
#   shared_data NAME      print the absolute path of ../shared/data/NAME beside the repository
#                         when that is a directory, else nothing
#   pretrain_overrides    (array) the settings of a pretraining run on another corpus of many
#                         words: competitors pruned, validation every 4th epoch, 60 clips per
#                         word for the template init; used as "${pretrain_overrides[@]}"
#   pretrain_templates CONFIG  print model.templates_per_word=4 when CONFIG's count is `auto`
#                         (only G_W of a pretraining run is kept: an `auto` count of 8 on 220
#                         clips per word doubles the cost of every DTW for nothing)

prog=${0##*/}
stage=0
stop_stage=100
forced=0  # with --stage, every stage from it to --stop-stage runs again, markers or not

usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$here/$prog"
}

usage_error() {
  echo "$prog: $*" >&2
  exit 2
}

need_value() {
  [ $# -ge 2 ] || usage_error "$1 needs a value (see --help)"
}

abs_dir() {
  (cd "$1" 2>/dev/null && pwd) || usage_error "$2 $1: no such directory"
}

from_caller() {
  local var
  for var in "$@"; do
    case "${!var}" in
      ""|/*) ;;
      *) [ -e "${!var}" ] && printf -v "$var" '%s' "$(pwd)/${!var}" ;;
    esac
  done
  return 0
}

require_asr() {
  command -v asr >/dev/null || { echo "$prog: 'asr' not on PATH ($*)" >&2; exit 1; }
}

log() { echo "[$recipe $(date +%H:%M:%S)] $*"; }

run_stage() {
  local n=$1 done_file
  shift
  done_file=$exp/.done/${marker:-stage}$n
  if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 1; fi
  if [ -e "$done_file" ] && [ "$forced" -eq 0 ]; then
    log "stage $n ($*): done before, skipped (marker $done_file)"; return 1
  fi
  log "stage $n: $*"
}

done_stage() { touch "$exp/.done/${marker:-stage}$1"; }

first_utterance() {
  python3 -c '
import json, os, sys
manifest = sys.argv[1]
path = json.loads(open(manifest).readline())["path"]
print(path if os.path.isabs(path) else os.path.join(os.path.dirname(manifest), path))' "$1"
}

json_get() {
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[key]
print(value if not isinstance(value, list) else " ".join(map(str, value)))' "$1" "$2"
}

shared_data() {
  local dir=$here/../../../shared/data/$1
  if [ -d "$dir" ]; then (cd "$dir" && pwd); fi
}

pretrain_overrides=(train.prune_words=5 train.valid_every=4 model.init_max_utterances=60)

pretrain_templates() {
  if grep -Eq '^[[:space:]]*templates_per_word:[[:space:]]*auto' "$1"; then
    echo model.templates_per_word=4
  fi
}
