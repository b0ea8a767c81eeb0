"""Changing an experiment's vocabulary in place: every checkpoint that commands load.

``asr eval``, ``recognize``, ``align`` and ``spot`` load ``EXP/best.pt`` by default and
``EXP/last.pt`` with ``--which last`` (:func:`asr.checkpoint.load_recognizer`), so a change is
applied to both (those that exist). Each is first copied to ``<name>.bak`` (the previous
version: one level of undo, ``mv best.pt.bak best.pt``), then rewritten atomically
(:func:`asr.checkpoint.save_checkpoint`). ``last.pt`` loses its optimizer state (its shapes no
longer fit the templates), so training cannot ``--resume`` from a changed experiment. Each
checkpoint records the change in ``vocabulary_changes``; calibrated spotting thresholds of a
forgotten word are dropped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from asr.checkpoint import (
    CHECKPOINTS,
    load_checkpoint,
    recognizer_from_payload,
    recognizer_payload,
    save_checkpoint,
)
from asr.errors import CheckpointError
from asr.files import write_atomically


def edit_experiment(exp_dir, change: Callable, record: dict) -> list[Path]:
    """Apply ``change(recognizer, config, payload) -> recognizer`` to every checkpoint of
    ``exp_dir``; returns the files rewritten. All checkpoints are changed in memory first, so
    an error (a word that exists, a bad file) leaves the experiment untouched."""
    exp_dir = Path(exp_dir)
    if not exp_dir.is_dir():
        raise CheckpointError(f"{exp_dir}: experiment directory not found")
    paths = [exp_dir / name for name in CHECKPOINTS.values() if (exp_dir / name).is_file()]
    if not paths:
        raise CheckpointError(f"{exp_dir}: no checkpoint (best.pt or last.pt) to change")
    updated = []
    for path in paths:
        payload = load_checkpoint(path)
        recognizer, config = recognizer_from_payload(payload, source=str(path))
        new = change(recognizer, config, payload)
        out = {k: v for k, v in payload.items() if k not in ("format", "version")}
        out.update(recognizer_payload(new, config))
        for stale in ("optimizer", "ema"):  # shapes no longer fit the templates
            if out.get(stale) is not None:
                out[stale] = None
        out["vocabulary_changes"] = list(payload.get("vocabulary_changes", [])) + [record]
        spotting = dict(payload.get("spotting") or {})
        if spotting.get("thresholds"):
            spotting["thresholds"] = {w: t for w, t in spotting["thresholds"].items()
                                      if w in new.words}
            out["spotting"] = spotting
        updated.append((path, out))
    for path, out in updated:
        backup(path)
        save_checkpoint(path, out)
    return [path for path, _ in updated]


def backup(path: Path) -> None:
    """Copy ``path`` to ``path.bak`` atomically (temporary copy, then rename)."""
    with open(path, "rb") as source:
        write_atomically(path.with_name(path.name + ".bak"),
                         lambda handle: shutil.copyfileobj(source, handle))


def enroll(exp_dir, word: str, paths, templates: int | None = None, init: str | None = None,
           tune_seconds: float = 0.0, speeds=(1.0,), normalize: str = "each") -> dict:
    """Add ``word`` from example files to every checkpoint of ``exp_dir`` (see
    :func:`asr.enrollment.vocabulary.example_encodings` for ``speeds`` and ``normalize``,
    :func:`asr.enrollment.vocabulary.add_word` for ``templates`` and ``init``); returns a
    summary dict."""
    from asr.enrollment.vocabulary import add_word, example_encodings, tune_templates

    summary = {"word": word, "examples": [str(p) for p in paths]}

    def change(recognizer, config, payload):
        encodings = example_encodings(recognizer, config, paths, speeds=speeds,
                                      normalize=normalize)
        new = add_word(recognizer, word, encodings, templates=templates, init=init)
        summary["templates"] = len(new.templates_of(word))
        summary["vocabulary"] = list(new.words)
        if tune_seconds > 0:
            summary["tune"] = tune_templates(new, word, encodings, config.train.loss,
                                             config.train.loss_params, seconds=tune_seconds)
        return new

    record = {"action": "enroll", "word": word, "examples": [str(p) for p in paths],
              "tune_seconds": float(tune_seconds), "speeds": [float(s) for s in speeds],
              "normalize": normalize, "templates": templates, "init": init}
    summary["checkpoints"] = [str(p) for p in edit_experiment(exp_dir, change, record)]
    return summary


def forget(exp_dir, word: str) -> dict:
    """Remove ``word`` from every checkpoint of ``exp_dir``; returns a summary dict."""
    from asr.enrollment.vocabulary import remove_word

    summary = {"word": word}

    def change(recognizer, config, payload):
        new = remove_word(recognizer, word)
        summary["vocabulary"] = list(new.words)
        return new

    summary["checkpoints"] = [str(p) for p in edit_experiment(
        exp_dir, change, {"action": "forget", "word": word})]
    return summary


def new_qbe_experiment(exp_dir, like, word: str, paths) -> dict:
    """Create ``exp_dir``: a query-by-example recognizer (``model.kind=dtw1nn``: no network,
    every example's front-end features a template) with the front end and feature
    standardization of the experiment ``like``, holding ``word`` from its example ``paths``;
    more words are enrolled as usual. The classic QbE spotter's anchor."""
    import dataclasses

    from asr.checkpoint import load_recognizer
    from asr.config import Config
    from asr.enrollment.vocabulary import example_encodings
    from asr.errors import AsrError
    from asr.model import Recognizer

    exp_dir = Path(exp_dir)
    if (exp_dir / "best.pt").exists():
        raise AsrError(f"{exp_dir}: already holds an experiment (enroll into it without "
                       f"--qbe-from)")
    source, config = load_recognizer(like)
    model = dataclasses.replace(config.model, kind="dtw1nn")
    config = Config(frontend=config.frontend, model=model, train=config.train)
    probe = Recognizer([word], source.input_dim, model, [1], [0])
    probe.input_mean.copy_(source.input_mean)
    probe.input_std.copy_(source.input_std)
    probe.feature_prior = getattr(source, "feature_prior", None)
    encodings = example_encodings(probe, config, paths)
    rec = Recognizer([word], source.input_dim, model, [len(e) for e in encodings],
                     [0] * len(encodings))
    rec.input_mean.copy_(source.input_mean)
    rec.input_std.copy_(source.input_std)
    rec.set_templates(encodings)
    rec.feature_prior = probe.feature_prior
    payload = recognizer_payload(rec, config)
    payload["vocabulary_changes"] = [{"action": "enroll", "word": word, "qbe_from": str(like),
                                      "examples": [str(p) for p in paths]}]
    exp_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(exp_dir / "best.pt", payload)
    return {"word": word, "templates": len(encodings), "vocabulary": [word],
            "checkpoints": [str(exp_dir / "best.pt")]}
