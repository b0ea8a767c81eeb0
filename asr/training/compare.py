"""The loss comparison of the EBM tutorial: one architecture, one data set, every loss, a few seeds.

Each (loss, seed) run is an ordinary experiment in ``EXP_DIR/runs/<loss>/seed<seed>/``, trained
with :func:`asr.train.train`; a run that has its ``results.json`` is reused, a run that was
interrupted resumes from its ``last.pt``. The summary gives, per loss, the test accuracy (mean and
spread over seeds), the error at zero rejection, the rejection needed for 1% error, the mean margin,
the epochs to the best validation accuracy and the wall time, and two pictures: validation accuracy
per epoch for every loss (``curves.png``), and the distributions of the correct answer's energy
:math:`E_C` and of the most offending incorrect answer's :math:`E_I` on the test set
(``energies.png``), where the plain energy loss shows its collapse.
"""

import copy
import json
import math
import time
from pathlib import Path

import numpy as np

from asr.config import Config, load_config, save_config
from asr.errors import ConfigError

COLUMNS = (
    ("loss", "loss"),
    ("accuracy", "test accuracy (%)"),
    ("error", "error (%)"),
    ("rejection_1pct", "rejection for 1% error (%)"),
    ("mean_margin", "mean margin"),
    ("epochs_to_best", "epochs to best"),
    ("wall_seconds", "wall time (s)"),
)


def run_config(base: Config, loss: str, seed: int, loss_params: dict) -> Config:
    """The config of one run: ``base`` with the loss, its parameters and the seed replaced.

    ``base.train.loss_params`` applies only to runs of ``base.train.loss``; other losses take
    their parameters from ``loss_params[loss]`` (else the loss function's defaults).
    """
    config = copy.deepcopy(base)
    params = loss_params.get(loss)
    if params is None:
        params = dict(base.train.loss_params) if loss == base.train.loss else {}
    config.train.loss = loss
    config.train.seed = int(seed)
    config.train.loss_params = dict(params)
    return config.validate()


def train_or_reuse(data_dir, run_dir, config, progress=True):
    """Results of one run: read from ``results.json`` when it finished before, else trained
    (resuming from ``last.pt`` when a previous attempt was interrupted)."""
    from asr.train import train

    run_dir = Path(run_dir)
    results_file = run_dir / "results.json"
    if results_file.is_file():
        from asr.training.auto import first_difference

        if first_difference(load_config(run_dir / "config.yaml"), config, ignore=()):
            raise ConfigError(
                f"{run_dir}: finished with a different config; use a new --exp to compare "
                "other settings"
            )
        return json.loads(results_file.read_text()), True
    resume = (run_dir / "last.pt").is_file()
    return train(data_dir, run_dir, config, resume=resume, progress=progress), False


def validation_curve(run_dir):
    """(epoch, validation accuracy) pairs from a run's ``metrics.jsonl``."""
    points = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        accuracy = row.get("valid_accuracy", row.get("valid", {}).get("accuracy"))
        if accuracy is not None and row.get("epoch") is not None:
            points.append((row["epoch"], accuracy))
    return points


def test_energies(run_dir, data_dir):
    """(E_C, E_I) arrays of a run's best model on the test manifest."""
    from asr.inference import load_experiment, manifest_energies
    from asr.losses import correct_and_offending

    recognizer, config = load_experiment(run_dir)
    energies, labels, _ = manifest_energies(recognizer, config, Path(data_dir) / "test.jsonl")
    e_correct, e_offending = correct_and_offending(energies, labels)
    return e_correct.numpy(), e_offending.numpy()


def compare_losses(data_dir, exp_dir, losses, seeds, base: Config, loss_params=None,
                   progress=True, log=print):
    """Train (or reuse) every (loss, seed) run; write comparison.{json,md}, curves.png and
    energies.png into ``exp_dir``; return the summary dict."""
    from asr import plots

    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    loss_params = loss_params or {}
    save_config(base, exp_dir / "base_config.yaml")
    start = time.time()
    rows, curves, distributions, runs = [], {}, {}, {}
    for loss in losses:
        per_seed = []
        for seed in seeds:
            run_dir = exp_dir / "runs" / loss / f"seed{seed}"
            log(f"[compare-losses] {loss} seed {seed}: {run_dir}")
            config = run_config(base, loss, seed, loss_params)
            results, reused = train_or_reuse(data_dir, run_dir, config, progress=progress)
            log(f"[compare-losses] {loss} seed {seed}: "
                f"{'reused' if reused else 'trained'}, test accuracy "
                f"{100 * results['test']['accuracy']:.2f}%")
            per_seed.append(results)
            runs[f"{loss}/seed{seed}"] = str(run_dir)
        rows.append(summarize(loss, per_seed))
        first_run = exp_dir / "runs" / loss / f"seed{seeds[0]}"
        curves[loss] = validation_curve(first_run)
        distributions[loss] = test_energies(first_run, data_dir)
    summary = {
        "data_dir": str(Path(data_dir).resolve()),
        "losses": list(losses),
        "seeds": [int(s) for s in seeds],
        "rows": rows,
        "runs": runs,
        "wall_seconds": round(time.time() - start, 1),
    }
    (exp_dir / "comparison.json").write_text(json.dumps(summary, indent=2) + "\n")
    (exp_dir / "comparison.md").write_text(markdown_table(rows, seeds) + "\n")
    plots.plot_learning_curves(exp_dir / "curves.png", curves,
                               title="Validation accuracy per epoch, one line per loss")
    plots.plot_energy_distributions(
        exp_dir / "energies.png", distributions,
        title="Test energies of the correct answer (E_C) and the most offending one (E_I)",
    )
    return summary


def summarize(loss, per_seed):
    """One table row from the results of every seed of a loss."""
    accuracy = np.array([r["test"]["accuracy"] for r in per_seed])
    rejection = np.array([r["test"]["rejection_for_error"]["0.01"] for r in per_seed])
    return {
        "loss": loss,
        "accuracy": 100 * float(accuracy.mean()),
        "accuracy_std": 100 * float(accuracy.std()),
        "accuracy_per_seed": [100 * float(a) for a in accuracy],
        "error": 100 * float(1 - accuracy.mean()),
        "rejection_1pct": 100 * float(rejection.mean()),
        "mean_margin": float(np.mean([r["test"]["mean_margin"] for r in per_seed])),
        "epochs_to_best": float(np.mean([r["valid"]["best_epoch"] for r in per_seed])),
        "wall_seconds": float(np.mean([r["wall_seconds"] for r in per_seed])),
    }


def _cell(row, key, seeds):
    value = row[key]
    if key == "loss":
        return value
    if key == "accuracy":
        spread = f" ± {row['accuracy_std']:.2f}" if len(seeds) > 1 else ""
        return f"{value:.2f}{spread}"
    if key in ("error", "rejection_1pct"):
        return f"{value:.2f}" if key == "error" else f"{value:.1f}"
    if key == "mean_margin":
        return f"{value:.4g}" if math.isfinite(value) else "inf"
    return f"{value:.1f}" if key == "epochs_to_best" else f"{value:.0f}"


def markdown_table(rows, seeds):
    """The comparison as a Markdown table (also printed by the CLI)."""
    header = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    rule = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [header, rule]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row, key, seeds) for key, _ in COLUMNS) + " |")
    lines.append("")
    lines.append(f"Seeds: {', '.join(str(s) for s in seeds)}; accuracy is mean ± std over seeds.")
    return "\n".join(lines)
