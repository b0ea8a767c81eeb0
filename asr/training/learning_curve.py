r"""Learning curves: test accuracy against the number of training recordings per word.

For each seed the training speakers' recordings of every word are put in one random order,
speakers interleaved (round-robin over the speakers, each speaker's takes shuffled), and the
subset of :math:`n` recordings per word is the first :math:`n` of that order: the subsets are
nested (the 5-per-word subset holds the 3-per-word one) and spread over the speakers as evenly
as the data allow. With ``per_speaker`` the count is per speaker and word instead (the first
:math:`n` takes of each speaker's shuffled list), as in "3 recordings per speaker and word".

Every point is scored on the same validation and test manifests, one utterance at a time (the
front end's own per-utterance normalization; a config with speaker CMVN is refused), by

- ``trained``: the experiment's recognizer trained on the subset (:func:`asr.train.train`,
  ``auto`` values resolved from the subset);
- ``dtw1nn``: plain DTW 1-nearest-neighbour (hard minimum, gamma = 0) on the same front end,
  every recording of the subset an exemplar;
- ``blend``: the product of the trained recognizer and the exemplar expert
  (:func:`asr.recognition.ensemble.combine_energies`): each expert's energies of an utterance
  standardized over the vocabulary and added,

  .. math:: E(y, X) = \tilde E_{\text{trained}}(y, X) + \tilde E_{\text{exemplars}}(y, X),

  the exemplar expert being the DTW 1-NN with the config's own DTW settings (with
  ``model.gamma > 0`` the soft minimum over warping paths and exemplars), as
  ``recipes/folder/run.sh`` scores it;

- ``enrolled`` (only with ``train.init_encoder``, a TDNN trained on other data): the
  enrollment path, nothing trained on the subset: the pretrained G_W and templates initialized
  from the subset's recordings through it (the medoids of ``train.epochs=0``), as
  ``asr enroll`` makes a new word's;
- any scorer registered in :data:`EXTRA_SCORERS`.

Runs that finished before (``runs/seed<s>/n<k>/*/results.json``, their scores in
``runs/seed<s>/n<k>/point.json``) are reused, so an interrupted curve resumes where it stopped;
the table and the picture are rewritten after every point.
"""

from __future__ import annotations

import copy
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from asr.config import Config, load_config, save_config
from asr.errors import ConfigError, DataError
from asr.training.auto import first_difference

# name -> f(subset_dir, run_dir, config) -> {"valid": energies [B, W], "test": energies [B, W]}
# (both in the vocabulary order of the subset's words); each is scored like "dtw1nn".
EXTRA_SCORERS: dict[str, Callable] = {}
METHODS = ("trained", "dtw1nn", "blend", "enrolled")


def nested_order(utterances: Sequence, seed: int) -> dict[str, list]:
    """Per word, the recordings in the seed's random order, speakers interleaved."""
    rng = np.random.default_rng(seed)
    by_word: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for u in sorted(utterances, key=lambda u: u.id):
        by_word[u.word][u.speaker].append(u)
    order = {}
    for word in sorted(by_word):
        speakers = sorted(by_word[word])
        lists = [[by_word[word][s][i] for i in rng.permutation(len(by_word[word][s]))]
                 for s in (speakers[i] for i in rng.permutation(len(speakers)))]
        order[word] = [lst[i] for i in range(max(map(len, lists))) for lst in lists
                       if i < len(lst)]
    return order


def nested_subset(utterances: Sequence, count: int, seed: int,
                  per_speaker: bool = False) -> list:
    """The ``count``-per-word (or per speaker and word) subset of ``utterances`` for ``seed``.

    Subsets of one seed are nested: a larger count's subset contains a smaller one's.
    """
    subset = []
    for ordered in nested_order(utterances, seed).values():
        if not per_speaker:
            subset += ordered[:count]
            continue
        taken: dict[str, int] = defaultdict(int)
        for u in ordered:  # each speaker's takes appear in their shuffled order
            if taken[u.speaker] < count:
                taken[u.speaker] += 1
                subset.append(u)
    return subset


def learning_curve(data_dir, exp_dir, counts: Sequence[int], seeds: Sequence[int],
                   config: Config, per_speaker: bool = False, log=print,
                   progress: bool = False) -> dict:
    """Train and score every (seed, count) point; write ``curve.json``, ``curve.md`` and
    ``curve.png`` into ``exp_dir``; return the summary (see the module docstring)."""
    from asr.corpora import read_manifest, write_manifest

    data_dir, exp_dir = Path(data_dir), Path(exp_dir)
    counts = sorted({int(c) for c in counts})
    if not counts or counts[0] < 1:
        raise ConfigError("--per-word: needs one or more counts >= 1")
    if config.frontend.cmvn == "speaker":
        raise ConfigError("frontend.cmvn=speaker: a learning curve scores one utterance at a "
                          "time; use a per-utterance normalization (mean, meanvar or none)")
    manifests = {}
    for name in ("train", "valid", "test"):
        path = data_dir / f"{name}.jsonl"
        if not path.is_file():
            raise DataError(f"{path}: manifest not found (run asr prepare first)")
        manifests[name] = read_manifest(path)
    exp_dir.mkdir(parents=True, exist_ok=True)
    _check_base(exp_dir, config)
    base = copy.deepcopy(config)
    base.train.cache_dir = str((exp_dir / "cache").resolve())  # valid/test features once
    words = sorted({u.word for u in manifests["train"]})
    points, total, done, start = [], len(counts) * len(seeds), 0, time.time()
    for seed in seeds:
        for count in counts:
            done += 1
            subset = nested_subset(manifests["train"], count, seed, per_speaker)
            missing = sorted(set(words) - {u.word for u in subset})
            if missing:
                raise DataError(f"{count} per word: no recording of {missing[0]!r}")
            run = exp_dir / "runs" / f"seed{seed}" / f"n{count}"
            subset_dir = run / "data"  # train and valid: training does not score the test set
            for name, path in (("valid", subset_dir / "valid.jsonl"),
                               ("test", run / "test.jsonl")):
                if not path.is_file():
                    write_manifest(path, manifests[name])
            write_manifest(subset_dir / "train.jsonl", subset)
            point = _score_point(subset_dir, run, base, seed, progress)
            point.update({"seed": int(seed), "count": count, "recordings": len(subset),
                          "per_word_actual": len(subset) / len(words)})
            points.append(point)
            log(f"[learning-curve] {done}/{total} seed {seed}, {count} per "
                f"{'speaker and ' if per_speaker else ''}word ({len(subset)} recordings): "
                + ", ".join(f"{m} {100 * point[m]['test']:.1f}%" for m in _methods([point]))
                + f"; {time.time() - start:.0f}s so far")
            # the table so far (``"complete": false`` until the last point), so that a long
            # curve can be read, or stopped and resumed, at any time
            summary = _summarize(points, counts, seeds, per_speaker, data_dir,
                                 time.time() - start)
            summary["complete"] = done == total
            _write(exp_dir, summary)
    return summary


def _write(exp_dir: Path, summary: dict) -> None:
    """curve.json, curve.md and curve.png, each written atomically."""
    import os

    for name, text in (("curve.json", json.dumps(summary, indent=2) + "\n"),
                       ("curve.md", markdown_table(summary) + "\n")):
        tmp = exp_dir / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, exp_dir / name)
    plot_curve(exp_dir / ".curve.tmp.png", summary)
    os.replace(exp_dir / ".curve.tmp.png", exp_dir / "curve.png")


def folder_default() -> Config:
    """The folder recipe's config (``recipes/folder/conf/default.yaml`` beside the package),
    else the built-in defaults (an installed package without the recipes)."""
    path = Path(__file__).resolve().parents[2] / "recipes" / "folder" / "conf" / "default.yaml"
    return load_config(path) if path.is_file() else Config()


def _check_base(exp_dir: Path, config: Config) -> None:
    """The curve's config is stored once; a rerun with another config needs a new folder."""
    path = exp_dir / "base_config.yaml"
    if path.is_file():
        if load_config(path).to_dict() != config.to_dict():
            raise ConfigError(f"{exp_dir}: holds a curve of a different config "
                              f"({path}); use a new --exp")
    else:
        save_config(config, path)


def _score_point(subset_dir: Path, run: Path, base: Config, seed: int, progress: bool) -> dict:
    from asr.recognition.ensemble import combine_energies

    trained_cfg = copy.deepcopy(base)
    trained_cfg.train.seed = int(seed)
    runs = {"trained": trained_cfg, "dtw1nn": exemplar_config(base, plain=True)}
    if base.model.gamma or base.model.template_gamma:  # the recipe's exemplars: soft-min DTW
        runs["exemplars"] = exemplar_config(base, plain=False)
    if base.train.init_encoder and base.model.kind == "tdnn":  # enrollment: nothing trained
        runs["enrolled"] = copy.deepcopy(trained_cfg)
        runs["enrolled"].train.epochs = 0
    energies, seconds = {}, {}
    finished = run / "point.json"
    if finished.is_file():  # scored before: the runs only checked for their configs
        for name, cfg in runs.items():
            _train_or_reuse(subset_dir, run / name, cfg, progress)
        return json.loads(finished.read_text())
    for name, cfg in runs.items():
        results = _train_or_reuse(subset_dir, run / name, cfg, progress)
        seconds[name] = results["train_seconds"]
        energies[name] = {part: _energies(run / name, path, base.train.cache_dir)
                          for part, path in (("valid", subset_dir / "valid.jsonl"),
                                             ("test", run / "test.jsonl"))}
    labels = {part: energies["dtw1nn"][part][1] for part in ("valid", "test")}
    energies = {name: {part: e[part][0] for part in e} for name, e in energies.items()}
    expert = energies.pop("exemplars", energies["dtw1nn"])
    energies["blend"] = {part: combine_energies([energies["trained"][part], expert[part]])
                         for part in ("valid", "test")}
    for name, scorer in EXTRA_SCORERS.items():
        energies[name] = scorer(subset_dir, run / name, base)
    point = {name: {part: float((e[part].argmin(dim=1) == labels[part]).float().mean())
                    for part in ("valid", "test")} for name, e in energies.items()}
    point["train_seconds"] = seconds["trained"]
    point["auto"] = json.loads((run / "trained" / "results.json").read_text()).get("auto", {})
    tmp = run / ".point.json.tmp"
    tmp.write_text(json.dumps(point, indent=2) + "\n")
    tmp.replace(finished)
    return point


def exemplar_config(config: Config, plain: bool) -> Config:
    """The DTW 1-NN on ``config``'s front end: every training recording an exemplar, nothing
    trained; ``plain``: the hard minimum over paths and exemplars (gamma = 0), else ``config``'s
    own DTW settings (the exemplar expert of ``recipes/folder``)."""
    nn = copy.deepcopy(config)
    nn.model.kind, nn.train.epochs, nn.train.speeds, nn.train.noise_prob = "dtw1nn", 0, [1.0], 0.0
    if plain:
        nn.model.gamma, nn.model.template_gamma = 0.0, None
    return nn


def _train_or_reuse(data_dir: Path, run_dir: Path, config: Config, progress: bool) -> dict:
    from asr.train import train

    results_file = run_dir / "results.json"
    if results_file.is_file():
        difference = first_difference(load_config(run_dir / "config.yaml"), config)
        if difference:
            raise ConfigError(f"{run_dir}: finished with {difference}; use a new --exp")
        return json.loads(results_file.read_text())
    resume = (run_dir / "last.pt").is_file()
    return train(data_dir, run_dir, config, resume=resume, progress=progress)


def _energies(run_dir: Path, manifest: Path, cache_dir: str):
    from asr.inference import load_experiment, manifest_energies

    recognizer, config = load_experiment(run_dir)
    energies, labels, _ = manifest_energies(recognizer, config, manifest, cache_dir=cache_dir,
                                            jobs=config.train.jobs)
    return energies, labels


def _methods(points: Sequence[dict]) -> list[str]:
    """The methods every point was scored with (a point scored before a method was added
    lacks it until its ``point.json`` is removed and the curve rerun)."""
    return [m for m in (*METHODS, *EXTRA_SCORERS) if all(m in p for p in points)]


def _summarize(points, counts, seeds, per_speaker, data_dir, seconds) -> dict:
    methods = _methods(points) if points else list(METHODS)
    rows = []
    for count in counts:
        mine = [p for p in points if p["count"] == count]
        if not mine:
            continue
        row = {"count": count, "seeds": len(mine),
               "recordings": int(np.mean([p["recordings"] for p in mine])),
               "train_seconds": round(float(np.mean([p["train_seconds"] for p in mine])), 1)}
        for m in methods:
            for part in ("test", "valid"):
                values = [p[m][part] for p in mine]
                row[f"{m}_{part}"] = float(np.mean(values))
                row[f"{m}_{part}_std"] = float(np.std(values))
            row[f"{m}_test_per_seed"] = [p[m]["test"] for p in mine]
        rows.append(row)
    return {"data_dir": str(data_dir.resolve()), "unit": "per speaker and word" if per_speaker
            else "per word", "seeds": [int(s) for s in seeds], "methods": methods,
            "rows": rows, "points": points, "wall_seconds": round(seconds, 1)}


def markdown_table(summary: dict) -> str:
    """Test accuracy (mean ± std over seeds) per count and method, as a markdown table."""
    methods = summary["methods"]
    head = (f"| recordings {summary['unit']} | training recordings | "
            + " | ".join(f"{m} test %" for m in methods) + " | training s | seeds |")
    lines = [head, "|" + "---|" * (4 + len(methods))]
    for row in summary["rows"]:
        cells = [f"{100 * row[f'{m}_test']:.1f} ± {100 * row[f'{m}_test_std']:.1f}"
                 if row["seeds"] > 1 else f"{100 * row[f'{m}_test']:.1f}"
                 for m in methods]
        lines.append(f"| {row['count']} | {row['recordings']} | " + " | ".join(cells)
                     + f" | {row['train_seconds']} | {row['seeds']} |")
    return "\n".join(lines)


def plot_curve(path, summary: dict, title: str | None = None):
    """Test accuracy against recordings per word (log scale), one line per method, with the
    spread over seeds shaded."""
    from matplotlib.figure import Figure

    from asr.plots import _save

    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    x = [row["count"] for row in summary["rows"]]
    labels = {"trained": "trained (TDNN + templates)", "dtw1nn": "DTW 1-NN (exemplars)",
              "blend": "trained x exemplars (product of experts)",
              "enrolled": "enrolled: templates through a pretrained TDNN, nothing trained"}
    for m in summary["methods"]:
        y = np.array([100 * row[f"{m}_test"] for row in summary["rows"]])
        s = np.array([100 * row[f"{m}_test_std"] for row in summary["rows"]])
        ax.plot(x, y, marker="o", markersize=4, label=labels.get(m, m),
                linestyle="--" if m == "dtw1nn" else "-")
        if max(row["seeds"] for row in summary["rows"]) > 1:
            ax.fill_between(x, y - s, y + s, alpha=0.15)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(x)
    ax.set_xticklabels([str(c) for c in x])
    ax.set_xlabel(f"training recordings {summary['unit']}")
    ax.set_ylabel("test accuracy (%), one utterance at a time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    seeds = summary["seeds"]
    ax.set_title(title or f"Learning curve ({len(seeds)} seed{'s' if len(seeds) > 1 else ''})")
    return _save(fig, path)
