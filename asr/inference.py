"""Using a trained experiment: features of files or manifests, energies, decisions.

The thin layer shared by ``asr eval``, ``asr recognize``, ``asr align`` and ``asr compare-losses``:
it loads a recognizer from an experiment directory, extracts features with the experiment's own
front-end settings, and scores them.
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from asr.errors import DataError


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


def cmvn_prior(recognizer, prior_frames=None):
    """The prior of a recognizer's speaker CMVN: ``{"mean": Tensor [D], "prior_frames": tau}``.

    ``tau`` is the weight the experiment was trained with (stored beside the mean; 100 frames
    for checkpoints from before it was stored) unless ``prior_frames`` overrides it. None for
    checkpoints saved without a prior: their speaker means come from the speaker's frames only.
    """
    from asr.features.online import DEFAULT_PRIOR_FRAMES

    prior = getattr(recognizer, "feature_prior", None)
    if prior is None:
        return None
    tau = prior.get("prior_frames", DEFAULT_PRIOR_FRAMES) if prior_frames is None else prior_frames
    return {"mean": prior["mean"], "prior_frames": float(tau)}


def manifest_energies(recognizer, config, manifest, *, cache_dir=None, jobs=1, speeds=(1.0,),
                      online=None, strict=False):
    r"""Energies [B, W] and labels [B] of every utterance of a manifest.

    Features come from the feature cache (computed once per front-end config, file list and
    speed). Every word of the manifest must be in the recognizer's vocabulary. With several
    ``speeds`` the energy is averaged over speed-perturbed copies of each utterance (test-time
    augmentation: the copies play the speakers of other vocal-tract lengths and tempi),

    .. math:: \bar E(W, y, X) = \frac{1}{|A|} \sum_{\alpha \in A} E(W, y, X_\alpha),

    each copy normalized on its own (with speaker CMVN, each speed's copies are a speaker).
    ``online`` (see :func:`manifest_features`) replaces batch speaker CMVN by online CMVN, with
    the recognizer's stored prior (:func:`cmvn_prior`; none for old checkpoints); ``strict``
    takes every utterance as a speaker of its own (what ``asr recognize`` does without
    ``--speaker``). Otherwise speaker CMVN is batch: each speaker's mean over all his utterances
    in the manifest (and the prior).
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
    if online is not None and strict:
        raise ValueError("online and strict exclude each other")
    prior = cmvn_prior(recognizer, None if online is None else online.get("prior_frames"))
    if online is not None:
        online = {**online, "prior_mean": None if prior is None else prior["mean"],
                  "prior_frames": 0.0 if prior is None else prior["prior_frames"]}
    total = None
    for speed in speeds:
        features = manifest_features(utterances, config.frontend, manifest, speed=speed,
                                     cache_dir=cache_dir, jobs=jobs, online=online,
                                     prior=prior, strict=strict)
        with torch.no_grad():
            energies = recognizer.energies(features)
        total = energies if total is None else total + energies
    labels = torch.tensor([index[u.word] for u in utterances])
    return total / len(speeds), labels, utterances


def experts_energies(exp_dirs, manifest, *, which="best", jobs=1, speeds=(1.0,), online=None,
                     strict=False):
    """Every experiment's energies on a manifest (:func:`manifest_energies`), for an ensemble.

    Returns ``(energies, labels, utterances, configs, words)``: one [B, W] matrix and config
    per experiment, in order. The experiments must share one vocabulary.
    """
    energies, configs, words = [], [], None
    for exp in exp_dirs:
        recognizer, config = load_experiment(exp, which=which)
        if words is not None and recognizer.words != words:
            raise DataError(f"{exp}: vocabulary differs from {exp_dirs[0]}'s; "
                            "cannot combine them")
        words = recognizer.words
        model_energies, labels, utterances = manifest_energies(
            recognizer, config, manifest, jobs=jobs, speeds=speeds, online=online,
            strict=strict)
        energies.append(model_energies)
        configs.append(config)
    return energies, labels, utterances, configs, words


def manifest_features(utterances, frontend, manifest, *, speed=1.0, cache_dir=None, jobs=1,
                      online=None, prior=None, strict=False):
    """Front-end features of a manifest's utterances at one speed, from the feature cache beside
    the manifest (or ``cache_dir``), speaker CMVN applied when ``frontend`` asks for it: over
    each speaker's utterances and the experiment's ``prior`` (batch; each utterance on its own
    with ``strict``), or, with ``online`` (a dict of the keyword arguments of
    :func:`asr.features.online_speaker_cmvn`: ``order``, ``prior_mean``, ``prior_frames``,
    ``include_current``), each utterance from its speaker's earlier ones only."""
    from asr.features import FeatureCache, finish_cmvn, online_speaker_cmvn

    cache = FeatureCache(cache_dir or Path(manifest).resolve().parent / ".cache" / "features")
    features = cache.get(utterances, frontend, speed=float(speed), jobs=jobs)
    speakers = [u.id if strict else u.speaker for u in utterances]
    if online is not None and frontend.cmvn == "speaker":
        return online_speaker_cmvn(features, speakers, **online)
    return finish_cmvn(features, speakers, frontend, prior=prior)


def recognize_files(recognizer, config, paths, top=1, speaker=None):
    """Recognize files one at a time (:class:`asr.recognition.System`): a file that fails gets
    its one-line error, the others still run. Each file's answer depends on that file alone
    (with speaker CMVN, each file is a speaker of its own), or, with ``speaker`` (a
    :class:`asr.recognition.SpeakerState`), on it and the speaker's earlier files."""
    from asr.recognition import System

    system = System([(recognizer, config)])
    return [system.recognize(path, speaker=speaker, top=top) for path in paths]
