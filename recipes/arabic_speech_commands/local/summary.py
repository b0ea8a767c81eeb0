"""Results table of the Arabic Speech Commands recipe: one row per system, strict accuracy (%)
on each part, training time, seconds per epoch, decoding speed.

Reads ``EXP/<system>/{valid-eval,eval}.json`` (written by ``asr eval`` for valid.jsonl and
test.jsonl), ``EXP/<system>/results.json`` and ``metrics.jsonl`` (written by ``asr train``), and
writes ``EXP/results.md`` and ``EXP/results.json``. A missing file leaves its cell ``n/a``.
Standard library only::

    python3 local/summary.py EXP --systems train dtw1nn --parts valid test
"""

import argparse
import json
from pathlib import Path

NAMES = {"train": "TDNN + trained templates (MFCC)", "train_logmel": "the same on log-mel",
         "ensemble": "product of the two, test-time speeds",
         "exemplars_train": "train clips through the MFCC model's G_W as exemplars (1-NN)",
         "exemplars_train_logmel": "train clips through the log-mel model's G_W as exemplars",
         "ensemble_exemplars": "product of the trained and exemplar experts, test-time speeds",
         "dtw1nn": "plain DTW 1-NN (train clips as exemplars)"}
EVAL_FILE = {"valid": "valid-eval.json", "test": "eval.json"}


def _json(path):
    return json.loads(path.read_text()) if path.is_file() else None


def system_row(exp: Path, system: str, parts) -> dict:
    """Figures of one system (None where not measured)."""
    folder = exp / system
    results = _json(folder / "results.json") or {}
    row = {"system": system, "name": NAMES.get(system, system)}
    for part in parts:
        ev = _json(folder / EVAL_FILE[part])
        row[f"{part}_accuracy"] = ev["accuracy"] if ev else None
        row[f"{part}_utterances"] = ev.get("num_utterances") if ev else None
    metrics = folder / "metrics.jsonl"
    epochs = []
    if metrics.is_file():
        epochs = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    seconds = [r["seconds"] for r in epochs if r.get("epoch", 0) > 0]
    row["epochs"] = len(seconds)
    row["seconds_per_epoch"] = round(sum(seconds) / len(seconds), 1) if seconds else None
    row["train_seconds"] = results.get("train_seconds")
    row["threads"] = results.get("threads")
    row["world_size"] = results.get("world_size", 1)
    row["load_average"] = results.get("load_average")
    return row


def _cell(value, fmt):
    return "n/a" if value is None else fmt.format(value)


def table(rows, parts) -> str:
    """Markdown table of the rows."""
    head = ["system"] + [f"{p} acc. (%)" for p in parts] + ["epochs", "s/epoch", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["name"]] + [_cell(None if r[f"{p}_accuracy"] is None
                                     else 100 * r[f"{p}_accuracy"], "{:.2f}") for p in parts]
        cells += [str(r["epochs"]), _cell(r["seconds_per_epoch"], "{:.1f}"),
                  _cell(r["train_seconds"], "{:.0f}")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp", type=Path)
    parser.add_argument("--systems", nargs="+", default=["train", "dtw1nn"])
    parser.add_argument("--parts", nargs="+", default=["valid"], choices=sorted(EVAL_FILE))
    args = parser.parse_args()
    rows = [system_row(args.exp, s, args.parts) for s in args.systems]
    text = ("Strict accuracy (each clip on its own), official split of Arabic Speech Commands.\n\n"
            + table(rows, args.parts) + "\n")
    (args.exp / "results.md").write_text(text)
    (args.exp / "results.json").write_text(json.dumps({"parts": args.parts, "systems": rows},
                                                       indent=2) + "\n")
    print(text, end="")


if __name__ == "__main__":
    main()
