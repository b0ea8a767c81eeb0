"""Using a trained experiment: features of files or manifests, energies, decisions.

The thin layer shared by ``asr eval``, ``asr recognize``, ``asr align`` and ``asr compare-losses``:
it loads a recognizer from an experiment directory, extracts features with the experiment's own
front-end settings, and scores them.
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from asr.errors import AsrError, DataError


@dataclass
class FileResult:
    """The recognizer's answer for one file, or the one-line error that prevented it."""

    path: str
    words: list[str] | None = None
    energies: list[float] | None = None
    margin: float | None = None
    error: str | None = None

    def to_dict(self):
        return {k: v for k, v in vars(self).items() if v is not None}


def load_experiment(exp_dir, which="best"):
    """The recognizer (eval mode) and resolved config saved in ``exp_dir``."""
    from asr.checkpoint import load_recognizer

    recognizer, config = load_recognizer(exp_dir, which=which)
    recognizer.eval()
    return recognizer, config


def manifest_energies(recognizer, config, manifest, *, cache_dir=None, jobs=1, speeds=(1.0,)):
    r"""Energies [B, W] and labels [B] of every utterance of a manifest.

    Features come from the feature cache (computed once per front-end config, file list and
    speed). Every word of the manifest must be in the recognizer's vocabulary. With several
    ``speeds`` the energy is averaged over speed-perturbed copies of each utterance (test-time
    augmentation: the copies play the speakers of other vocal-tract lengths and tempi),

    .. math:: \bar E(W, y, X) = \frac{1}{|A|} \sum_{\alpha \in A} E(W, y, X_\alpha),

    each copy normalized on its own (with speaker CMVN, each speed's copies are a speaker).
    """
    from asr.corpora import read_manifest

    utterances = read_manifest(manifest)
    if not utterances:
        raise DataError(f"{manifest}: manifest has no utterances")
    index = {word: i for i, word in enumerate(recognizer.words)}
    unknown = sorted({u.word for u in utterances} - set(index))
    if unknown:
        raise DataError(
            f"{manifest}: words not in the model's vocabulary: {', '.join(unknown)}"
        )
    total = None
    for speed in speeds:
        features = manifest_features(utterances, config.frontend, manifest, speed=speed,
                                     cache_dir=cache_dir, jobs=jobs)
        with torch.no_grad():
            energies = recognizer.energies(features)
        total = energies if total is None else total + energies
    labels = torch.tensor([index[u.word] for u in utterances])
    return total / len(speeds), labels, utterances


def manifest_features(utterances, frontend, manifest, *, speed=1.0, cache_dir=None, jobs=1):
    """Front-end features of a manifest's utterances at one speed, from the feature cache beside
    the manifest (or ``cache_dir``), speaker CMVN applied when ``frontend`` asks for it."""
    from asr.features import FeatureCache, finish_cmvn

    cache = FeatureCache(cache_dir or Path(manifest).resolve().parent / ".cache" / "features")
    features = cache.get(utterances, frontend, speed=float(speed), jobs=jobs)
    return finish_cmvn(features, [u.speaker for u in utterances], frontend)


def recognize_files(recognizer, config, paths, top=1, batch_size=64):
    """Recognize files: a file that fails gets its one-line error, the others still run.

    Every file's features are computed on their own (so that one bad file only fails itself),
    then the good ones are scored together, ``batch_size`` utterances per DTW call. With speaker
    CMVN (``frontend.cmvn == "speaker"``) the files are taken as one speaker's: the speaker mean
    comes from all of them.
    """
    from asr.evaluate import decide
    from asr.features import extract_features, finish_cmvn

    results, features, scored = [], [], []
    for path in paths:
        try:
            features.append(extract_features(path, config.frontend))
        except AsrError as exc:
            results.append(FileResult(path=str(path), error=str(exc)))
            continue
        results.append(FileResult(path=str(path)))
        scored.append(results[-1])
    features = finish_cmvn(features, ["speaker"] * len(features), config.frontend)
    with torch.no_grad():
        energies = recognizer.energies(features, batch_size=batch_size)
    _, margins = decide(energies)
    for result, row, margin in zip(scored, energies, margins, strict=True):
        ranked = torch.argsort(row)[: max(1, top)].tolist()
        result.words = [recognizer.words[i] for i in ranked]
        result.energies = [float(row[i]) for i in ranked]
        result.margin = float(margin)
    return results
