"""Leave-one-speaker-out summary: one row per held-out speaker, then the mean over speakers.

Reads, for each held-out speaker S, what ``loso.sh`` stage 7 wrote with ``asr eval``:
``EXP/si_S/strict/{dtw1nn,train,train_logmel}/eval.json`` (each expert alone, one utterance at a
time), ``EXP/si_S/online/eval.json`` (the weighted ensemble, one utterance at a time: the
headline), ``EXP/si_S/online_cmvn/eval.json`` (the same with S's online CMVN state from his
earlier utterances), ``EXP/si_S/online_state/eval.json`` (the online CMVN state and, when the
validation speaker chose them, S's own exemplars from his earlier utterances) and
``EXP/si_S/batch/eval.json`` (transductive: S's mean over all his recordings first), and
``EXP/si_S/select/choice.json`` (the weights and own exemplars chosen on the validation
speaker). Prints a markdown table of test accuracies (%) and the ensemble's rejection for 1%
error, and writes ``OUT/summary.md`` and ``OUT/summary.json`` (fractions, per speaker and
mean, and the config files used). A missing eval.json leaves its cell empty (``n/a``) and the
mean of its column too. Standard library only::

    python3 local/loso_summary.py --speakers george,jackson --config conf/speaker_independent.yaml \
        --logmel-config conf/speaker_independent_logmel.yaml --nn1-config conf/dtw1nn.yaml \
        [--exp exp] [--out exp/loso]
"""

import argparse
import json
from pathlib import Path

# column -> (path under EXP/si_S/, heading)
SYSTEMS = {
    "dtw1nn": ("strict/dtw1nn", "DTW 1-NN"),
    "train": ("strict/train", "TDNN (MFCC)"),
    "train_logmel": ("strict/train_logmel", "TDNN (log-mel)"),
    "strict": ("online", "ensemble, one utterance at a time"),
    "online_cmvn": ("online_cmvn", "ensemble, online CMVN state"),
    "online": ("online_state", "ensemble, online speaker state"),
    "batch": ("batch", "ensemble, batch (transductive)"),
}
TARGET = "0.01"  # the error rate whose rejection is reported


def read_result(path):
    """The headline figures of one eval.json, or None when it does not exist yet."""
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    return {
        "accuracy": result["accuracy"],
        "num_utterances": result["num_utterances"],
        "rejection_for_error": result["rejection_for_error"],
        "speeds": result.get("speeds", [1.0]),
        "mode": result.get("mode"),
        "eval_json": str(path),
    }


def read_choice(path):
    """The validation speaker's choices (weights, accuracy; and the DTW 1-NN's prior weight from
    ``dtw1nn_prior.json`` beside it, as ``nn1_prior_frames``), or None."""
    if not path.is_file():
        return None
    choice = json.loads(path.read_text())
    prior = path.parent / "dtw1nn_prior.json"
    if prior.is_file():
        choice["nn1_prior_frames"] = json.loads(prior.read_text())["prior_frames"]
    return choice


def _own(online):
    """The own-exemplar choice of a choice.json's "online" part, in words."""
    state = "" if online.get("cmvn_state", True) else " (no CMVN state)"
    if online.get("own_exemplars") is None:
        return "none" + state
    return f"K={online['own_exemplars']} at weight {online['own_weight']:g}{state}"


def mean(values):
    """Mean of ``values``; None if any is missing (a partial mean would mislead)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def summarize(exp, speakers):
    """Per-speaker results of every system and their means over the speakers."""
    per_speaker = {
        s: {name: read_result(exp / f"si_{s}" / sub / "eval.json")
            for name, (sub, _) in SYSTEMS.items()}
        for s in speakers
    }
    means = {}
    for name in SYSTEMS:
        rows = [per_speaker[s][name] for s in speakers]
        targets = next((r["rejection_for_error"] for r in rows if r is not None), {})
        means[name] = {
            "accuracy": mean([r and r["accuracy"] for r in rows]),
            "rejection_for_error": {
                t: mean([r and r["rejection_for_error"].get(t) for r in rows]) for t in targets
            },
        }
    return per_speaker, means


def percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}"


def table(speakers, per_speaker, means):
    """The markdown table: accuracies (%) of each system and the strict ensemble's rejection."""
    head = (["held-out speaker"] + [label for _, label in SYSTEMS.values()]
            + [f"one at a time: rejection for {100 * float(TARGET):g}% error"])
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]

    def row(label, results):
        strict = results["strict"]
        rejection = strict and strict["rejection_for_error"].get(TARGET)
        cells = [percent(r and r["accuracy"]) for r in results.values()] + [percent(rejection)]
        return "| " + " | ".join([label] + cells) + " |"

    lines += [row(s, per_speaker[s]) for s in speakers]
    lines.append(row("mean", means))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", required=True, help="comma-separated held-out speakers")
    parser.add_argument("--config", required=True, help="config of the TDNN + templates")
    parser.add_argument("--logmel-config", required=True, help="config of the log-mel TDNN")
    parser.add_argument("--nn1-config", required=True, help="config of the DTW 1-NN baseline")
    parser.add_argument("--pretrain-data", default="none",
                        help="the corpus the TDNNs were pretrained on (none: not pretrained)")
    parser.add_argument("--exp", type=Path, default=Path("exp"), help="holds si_<speaker>/")
    parser.add_argument("--out", type=Path, default=Path("exp/loso"), help="summary folder")
    args = parser.parse_args(argv)
    speakers = [s for s in args.speakers.split(",") if s]
    if not speakers:
        parser.error("--speakers: give at least one speaker")

    per_speaker, means = summarize(args.exp, speakers)
    choices = {s: read_choice(args.exp / f"si_{s}" / "select" / "choice.json")
               for s in speakers}
    scored = [r for row in per_speaker.values() for r in row.values() if r is not None]
    speeds = sorted({v for r in scored for v in r["speeds"]}) or [1.0]
    configs = {}
    for name, path in (("train", args.config), ("train_logmel", args.logmel_config),
                       ("dtw1nn", args.nn1_config)):
        path = Path(path)
        configs[name] = {"path": str(path),
                         "text": path.read_text() if path.is_file() else None}
    weights = "; ".join(
        f"{s}: {', '.join(f'{w:g}' for w in c['weights'])} (on {c.get('validation_speakers')}"
        + (f", 1-NN prior {c['nn1_prior_frames']:g} frames" if "nn1_prior_frames" in c else "")
        + (f", own exemplars {_own(c['online'])}" if "online" in c else "")
        + ")"
        for s, c in choices.items() if c)
    markdown = "\n".join([
        "# FSDD leave-one-speaker-out: test accuracy (%)",
        "",
        "Each row: trained on the other speakers, tested on every recording of that speaker. "
        "Every setting (epochs, the experts' weights) was chosen on a validation speaker, "
        f"never on the test speaker. Experts: TDNN + templates `{args.config}` and "
        f"`{args.logmel_config}`, DTW 1-NN `{args.nn1_config}`, each alone scored one "
        "utterance at a time; ensemble: their weighted product of experts (weights per fold: "
        f"{weights or 'n/a'}). *One utterance at a time* is what `asr recognize` gives a new "
        "speaker; *online CMVN state* normalizes each utterance with the speaker's earlier "
        "ones (`asr eval --online`), and *online speaker state* adds the speaker's own "
        "exemplars from his earlier answers when the validation speaker chose them "
        "(`--own-exemplars K`); *batch* reads all his recordings first (transductive). "
        "Energies averaged over each utterance's copies at speeds "
        f"{', '.join(f'{v:g}' for v in speeds)}. TDNNs "
        + (f"pretrained on {args.pretrain_data}." if args.pretrain_data != "none"
           else "trained from random weights."),
        "",
        table(speakers, per_speaker, means),
        "",
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.md").write_text(markdown)
    summary = {"speakers": speakers,
               "systems": {name: label for name, (_, label) in SYSTEMS.items()},
               "per_speaker": per_speaker, "mean": means, "choices": choices,
               "speeds": speeds, "configs": configs, "pretrain_data": args.pretrain_data}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(markdown, end="")


if __name__ == "__main__":
    main()
