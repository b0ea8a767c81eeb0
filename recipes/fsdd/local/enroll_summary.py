"""Enrollment summary: accuracy of each system on the held-out speaker, and per word.

Reads what ``enroll.sh`` stage 6 wrote with ``asr eval --strict``:
``EXP/score/<system>/eval.json`` for ``all`` (trained on every word: the anchor), ``enrolled``
(trained without the new words, which are then enrolled from a few examples), ``dtw1nn`` (DTW on
MFCCs: the training utterances of the other words and the same examples of the new words as
templates) and ``qbe`` (DTW on MFCCs: the examples of every word, nothing else). Writes
``EXP/results.md`` (a markdown table: overall accuracy, accuracy on the new words and on the
others, per-word accuracy of the new words, in %) and ``EXP/results.json`` (fractions, the
settings of the run). A missing eval.json leaves its row empty. Standard library only::

    python3 local/enroll_summary.py --exp exp/enroll_jackson --new-words 7,8,9 \
        [--systems "all enrolled dtw1nn qbe"] [--test-speakers jackson] ...
"""

import argparse
import json
from pathlib import Path

NAMES = {
    "all": "TDNN trained on all the words (anchor)",
    "enrolled": "TDNN trained without the new words, new words enrolled",
    "dtw1nn": "DTW 1-NN on MFCCs, new words enrolled (anchor)",
    "qbe": "query by example: DTW on MFCCs, the examples only (anchor)",
}


def word_accuracies(result):
    """``{word: accuracy}`` from an eval.json's confusion matrix (rows: the true word)."""
    out = {}
    for word, row in zip(result["words"], result["confusion"], strict=True):
        total = sum(row)
        if total:
            out[word] = row[result["words"].index(word)] / total
    return out


def group_accuracy(result, words):
    """Accuracy over the utterances of ``words`` (None when there are none)."""
    right = total = 0
    for word, row in zip(result["words"], result["confusion"], strict=True):
        if word in words:
            right += row[result["words"].index(word)]
            total += sum(row)
    return right / total if total else None


def percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exp", required=True, type=Path)
    parser.add_argument("--new-words", required=True)
    parser.add_argument("--systems", default="all enrolled dtw1nn qbe")
    for option in ("--test-speakers", "--enroll-speaker", "--takes", "--config",
                   "--init-encoder", "--enroll-options"):
        parser.add_argument(option, default="")
    args = parser.parse_args()
    new = args.new_words.split(",")
    rows, systems = [], {}
    for system in args.systems.split():
        path = args.exp / "score" / system / "eval.json"
        if not path.is_file():
            systems[system] = None
            rows.append(f"| {NAMES.get(system, system)} | " + " | ".join(["n/a"] * (3 + len(new)))
                        + " |")
            continue
        result = json.loads(path.read_text())
        per_word = word_accuracies(result)
        old = [w for w in result["words"] if w not in new]
        entry = {"accuracy": result["accuracy"], "num_utterances": result["num_utterances"],
                 "mode": result.get("mode"), "new_words": group_accuracy(result, new),
                 "other_words": group_accuracy(result, old), "per_word": per_word,
                 "eval_json": str(path)}
        systems[system] = entry
        cells = [percent(entry["accuracy"]), percent(entry["new_words"]),
                 percent(entry["other_words"])] + [percent(per_word.get(w)) for w in new]
        rows.append(f"| {NAMES.get(system, system)} | " + " | ".join(cells) + " |")
    gap = None
    if systems.get("all") and systems.get("enrolled"):
        gap = systems["all"]["accuracy"] - systems["enrolled"]["accuracy"]
    settings = {k: getattr(args, k) for k in ("test_speakers", "enroll_speaker", "takes",
                                              "config", "init_encoder", "enroll_options")}
    settings["new_words"] = new
    lines = [
        f"# Enrollment on FSDD: held-out {args.test_speakers}, words {args.new_words} enrolled "
        f"from {args.enroll_speaker}'s takes {args.takes}",
        "",
        f"Config {args.config}, init encoder {args.init_encoder}, enroll options "
        f"'{args.enroll_options}'. Accuracy (%) on every recording of {args.test_speakers}, one "
        "utterance at a time (asr eval --strict).",
        "",
        "| system | all words | new words | other words | "
        + " | ".join(f"'{w}'" for w in new) + " |",
        "|---|" + "---:|" * (3 + len(new)),
        *rows,
        "",
        f"Gap, all-words model minus enrolled: {percent(gap)} points.",
    ]
    (args.exp / "results.md").write_text("\n".join(lines) + "\n")
    (args.exp / "results.json").write_text(json.dumps(
        {"settings": settings, "systems": systems, "gap": gap}, indent=2) + "\n")


if __name__ == "__main__":
    main()
