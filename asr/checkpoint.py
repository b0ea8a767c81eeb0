"""Checkpoints that describe themselves: atomic writes, safe loads, and the loading API.

A checkpoint is one ``torch.save`` file holding only plain data (dicts, lists, str, int, float,
bool, None) and tensors, so :func:`torch.load` reads it with ``weights_only=True`` (no code is
ever unpickled). It stores the model's constructor arguments and the resolved config beside the
weights, so :func:`load_recognizer` rebuilds the recognizer from the file alone. Files are written
to a temporary name in the same folder and renamed (:func:`os.replace`), so a kill at any moment
leaves either the old file or the new one, never half of one.

An experiment directory holds ``best.pt`` (best validation accuracy) and ``last.pt`` (end of the
latest epoch, with optimizer and random-number-generator states for ``--resume``).
"""

from pathlib import Path
from typing import Any

import torch

from asr.config import Config
from asr.errors import CheckpointError, ConfigError
from asr.files import write_atomically

FORMAT = "asr-recognizer"
VERSION = 1
CHECKPOINTS = {"best": "best.pt", "last": "last.pt"}


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda handle: torch.save(
        {"format": FORMAT, "version": VERSION, **payload}, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    Raises
    ------
    CheckpointError
        One line naming the file, when it is missing, damaged, or not an ``asr`` checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file; report them alike
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an asr recognizer checkpoint")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')!r} is not "
                              f"supported (expected {VERSION})")
    for key in ("model_args", "model_state", "config"):
        if key not in payload:
            raise CheckpointError(f"{path}: damaged checkpoint (no {key!r})")
    return payload


def recognizer_payload(recognizer, config: Config) -> dict[str, Any]:
    """The part of a checkpoint that rebuilds the recognizer: arguments, weights, config, and
    the recognizer's ``feature_prior`` attribute when it has one (``{"mean": Tensor [D],
    "frames": int, "utterances": int}``, the training set's mean raw feature: the prior of
    online speaker CMVN, :mod:`asr.features.online`)."""
    payload = {"model_args": recognizer.model_args(),
               "model_state": {k: v.detach().clone() for k, v in recognizer.state_dict().items()},
               "config": config.to_dict()}
    prior = getattr(recognizer, "feature_prior", None)
    if prior is not None:
        payload["feature_prior"] = dict(prior)
    return payload


def recognizer_from_payload(payload: dict[str, Any], source: str = "checkpoint"):
    """Rebuild ``(recognizer, config)`` from a loaded checkpoint payload (eval mode)."""
    from asr.model import Recognizer

    try:
        config = Config.from_dict(payload["config"], source=f"{source} config")
    except ConfigError as exc:
        raise CheckpointError(f"{source}: stored config is invalid ({exc})") from None
    try:
        recognizer = Recognizer(**payload["model_args"])
        recognizer.load_state_dict(payload["model_state"])
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise CheckpointError(f"{source}: weights do not fit the stored model ({reason})") from None
    recognizer.eval()
    recognizer.feature_prior = _feature_prior(payload.get("feature_prior"), recognizer.input_dim,
                                              source)
    return recognizer, config


def _feature_prior(prior, dim: int, source: str):
    """The stored prior of online CMVN, checked; None for checkpoints saved without one."""
    if prior is None:
        return None
    mean = prior.get("mean") if isinstance(prior, dict) else None
    if not isinstance(mean, torch.Tensor) or tuple(mean.shape) != (dim,):
        raise CheckpointError(f"{source}: damaged checkpoint (feature_prior is not a [{dim}] mean)")
    return {**prior, "mean": mean.float()}


def checkpoint_path(exp_dir: str | Path, which: str = "best") -> Path:
    """``EXP_DIR/best.pt`` or ``EXP_DIR/last.pt`` (``which`` may also be a file path)."""
    if which in CHECKPOINTS:
        return Path(exp_dir) / CHECKPOINTS[which]
    return Path(which)


def load_recognizer(exp_dir: str | Path, which: str = "best"):
    """Load a trained recognizer and its config from an experiment directory.

    Parameters
    ----------
    exp_dir : path
        Experiment directory written by ``asr train``.
    which : {"best", "last"} or path
        The checkpoint: best validation accuracy, latest epoch, or an explicit file.

    Returns
    -------
    recognizer : asr.model.Recognizer
        In eval mode: ``.words``, ``.energies(features) -> [B, W]``, ``.encode(features)``,
        ``.templates_of(word)``, ``.dtw_options``.
    config : asr.config.Config
        The resolved config; ``config.frontend`` extracts the features the recognizer expects.

    Raises
    ------
    CheckpointError
        The directory or checkpoint is missing or damaged.
    """
    exp_dir = Path(exp_dir)
    if which in CHECKPOINTS and not exp_dir.is_dir():
        raise CheckpointError(f"{exp_dir}: experiment directory not found")
    path = checkpoint_path(exp_dir, which)
    return recognizer_from_payload(load_checkpoint(path), source=str(path))
