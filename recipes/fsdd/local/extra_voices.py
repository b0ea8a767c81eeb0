"""Digits of a Speech Commands folder as extra FSDD training voices.

    python local/extra_voices.py SPEECH_COMMANDS_DIR OUT.jsonl

Writes the clips of the words zero ... nine listed for training or validation by the corpus's
own split (never its test list), labelled with FSDD's words "0" ... "9"; each Speech Commands
speaker stays a speaker of his own. loso.sh appends them to every fold's training manifest:
four FSDD training speakers are few, and every extra voice is one more the TDNN has heard.
"""

import dataclasses
import sys

from asr.corpora import speech_commands
from asr.corpora.manifest import write_manifest
from asr.errors import AsrError

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def main(source: str, out: str) -> int:
    try:
        parts = speech_commands.prepare(source)
    except AsrError as exc:
        print(f"extra_voices.py: {exc}", file=sys.stderr)
        return 1
    clips = [dataclasses.replace(u, word=str(DIGITS.index(u.word)))
             for part in ("train", "valid") for u in parts[part] if u.word in DIGITS]
    if not clips:
        print(f"extra_voices.py: {source}: no zero ... nine clips in its train or validation "
              "lists", file=sys.stderr)
        return 1
    write_manifest(out, clips)
    print(f"{len(clips)} clips of {len({u.speaker for u in clips})} speakers -> {out}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    sys.exit(main(sys.argv[1], sys.argv[2]))
