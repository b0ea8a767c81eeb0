"""The DTW 1-NN's data folder: takes 1..N of every (speaker, word) of train.jsonl as exemplars.

The DTW 1-NN baseline compares every clip with every exemplar (2,400 x 7,200 DTWs on the full
training part: about 10 minutes on one core); ``--takes N`` keeps N of the 10 takes as exemplars.
Nothing of a 1-NN is selected on validation data, so its valid.jsonl only feeds ``asr train``'s
epoch-0 sanity check: one clip per word is kept there (the recipe scores the 1-NN on the whole
valid.jsonl and test.jsonl with ``asr eval``); test.jsonl is copied. Audio paths are written
absolute. Standard library only::

    python3 local/subset_takes.py data/official data/official_takes3 --takes 3
"""

import argparse
import json
import os
import re
from pathlib import Path

TAKE = re.compile(r"_NO_(\d+)$")


def rows(path: Path):
    base = path.parent.resolve()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["path"] = os.path.join(base, row["path"])  # no-op when already absolute
            yield row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--takes", type=int, required=True)
    args = parser.parse_args()
    args.dst.mkdir(parents=True, exist_ok=True)
    for part in ("train", "valid", "test"):
        kept = list(rows(args.src / f"{part}.jsonl"))
        if part == "train":
            kept = [r for r in kept if int(TAKE.search(r["id"])[1]) <= args.takes]
        elif part == "valid":
            kept = list({r["word"]: r for r in reversed(kept)}.values())
        tmp = args.dst / f".{part}.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept),
                       encoding="utf-8")
        os.replace(tmp, args.dst / f"{part}.jsonl")
        print(f"{args.dst / (part + '.jsonl')}: {len(kept)} clips")


if __name__ == "__main__":
    main()
