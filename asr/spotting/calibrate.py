r"""Per-word thresholds for a target false-alarm rate, from audio without keywords.

Every negative recording is spotted with no threshold, as ``asr spot`` spots (its verified
hits, :mod:`asr.spotting.verify`; without verification, with suppression within each word only),
so that each word's candidate hits :math:`s_{w,1} \le s_{w,2} \le \dots` on :math:`H` hours of
negatives are its would-be false alarms. For a rate of :math:`R` false alarms per hour *in
all* (every word's together), shared equally by the :math:`W` words, the threshold is

.. math:: \theta_w = s_{w,(k+1)}, \qquad k = \lfloor R H / W \rfloor,

so that exactly :math:`k` negative candidates of each word score below it (a hit needs
:math:`s < \theta_w`); :math:`\theta_w = +\infty` when there are no more than :math:`k`
candidates. Per-word thresholds also make the words' scores comparable: a threshold is the
score at which a word starts to false-alarm, whatever its typical score. The lowest candidate
scores and :math:`H` are stored in the checkpoint (``spotting``), so ``asr spot
--false-alarms-per-hour R`` derives thresholds for any other rate. The scores are those of one
score normalization (:mod:`asr.spotting.engine`), stored with them (``score_norm``) so that
``asr spot`` and ``asr listen`` use the same.
"""

from __future__ import annotations

import math
from pathlib import Path

from asr.errors import AsrError, DataError

KEEP_SCORES = 2000


def negative_sources(paths) -> list[tuple[str, float | None]]:
    """Audio files of the NEG arguments: files as they are, ``.jsonl`` manifests expanded."""
    from asr.corpora import read_manifest

    out = []
    for p in paths:
        if str(p).endswith(".jsonl"):
            out.extend((str(u.path), u.word) for u in read_manifest(p))
        else:
            out.append((str(p), None))
    if not out:
        raise DataError("no negative audio given")
    return out


def negative_scores(recognizer, frontend, sources, words=None, **options) -> tuple[dict, float]:
    """Candidate scores per word on negative audio, and its total duration in hours."""
    from asr.features import load_audio
    from asr.spotting.engine import Spotter, keywords_of

    words = keywords_of(recognizer.words) if words is None else words
    vocabulary = set(words)
    keyword = sorted({w for _, w in sources if w in vocabulary})
    if keyword:
        raise DataError(f"negative audio must hold none of the keywords, but a manifest has "
                        f"{', '.join(keyword)}")
    scores = {w: [] for w in words}
    seconds = 0.0
    for path, _ in sources:
        wave = load_audio(path, frontend.sample_rate).numpy()
        seconds += len(wave) / frontend.sample_rate
        # a verified hit's word is the region's answer, whichever word's match proposed it
        spotter = Spotter(recognizer, frontend, words=words,
                          across_words=options.get("verify", True), **options)
        for hit in spotter.push(wave) + spotter.flush():
            scores[hit.word].append(hit.score)
    return {w: sorted(s) for w, s in scores.items()}, seconds / 3600.0


def thresholds_for_rate(scores: dict, hours: float, rate: float) -> dict:
    """:math:`\\theta_w` for ``rate`` false alarms per hour in all, ``rate / W`` per word
    (see the module docstring)."""
    if hours <= 0:
        raise AsrError("calibration needs negative audio of non-zero duration")
    k = int(math.floor(rate * hours / max(len(scores), 1) + 1e-9))
    return {w: (float(s[k]) if k < len(s) else math.inf) for w, s in scores.items()}


def calibration_record(scores: dict, hours: float, rate: float,
                       score_norm: str = "none", verify: bool = True) -> dict:
    """What the checkpoint stores: thresholds, the rate, the hours, the lowest scores and the
    score normalization and pass (verified or first pass) they belong to."""
    return {"thresholds": thresholds_for_rate(scores, hours, rate), "score_norm": score_norm,
            "verify": bool(verify),
            "false_alarms_per_hour": float(rate), "negative_hours": float(hours),
            "negative_scores": {w: [float(v) for v in s[:KEEP_SCORES]]
                                for w, s in scores.items()}}


def load_spotting(exp_dir, which="best"):
    """``(recognizer, config, spotting record or {})`` of an experiment's checkpoint."""
    from asr.checkpoint import checkpoint_path, load_checkpoint, recognizer_from_payload
    from asr.errors import CheckpointError

    if which in ("best", "last") and not Path(exp_dir).is_dir():
        raise CheckpointError(f"{exp_dir}: experiment directory not found")
    path = checkpoint_path(exp_dir, which)
    payload = load_checkpoint(path)
    recognizer, config = recognizer_from_payload(payload, source=str(path))
    return recognizer, config, dict(payload.get("spotting") or {})


def save_spotting(exp_dir, record: dict, which="best") -> Path:
    """Write the calibration into the checkpoint (previous version kept as ``.bak``)."""
    from asr.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
    from asr.enrollment.experiment import backup

    path = checkpoint_path(exp_dir, which)
    payload = load_checkpoint(path)
    out = {k: v for k, v in payload.items() if k not in ("format", "version")}
    out["spotting"] = record
    backup(path)
    save_checkpoint(path, out)
    return path


def resolve_score_norm(record: dict, score_norm=None, own_threshold: bool = False) -> str:
    """The score normalization of ``asr spot`` / ``asr listen``: ``score_norm`` if given, else
    the calibration's (a calibration written before normalizations existed: ``none``), else,
    with no calibration, ``background``. Calibrated thresholds hold only for the normalization
    they were set on: asking for another one without one's own threshold is an error."""
    stored = record.get("score_norm", "none") if record else None
    if score_norm is None:
        return stored or "background"
    if stored is not None and score_norm != stored and not own_threshold:
        raise AsrError(f"the calibrated thresholds are for {stored!r} scores, not "
                       f"{score_norm!r}: run asr calibrate --score-norm {score_norm}, or give "
                       f"--threshold")
    return score_norm


def resolve_verify(record: dict, verify=None, own_threshold: bool = False) -> bool:
    """Whether ``asr spot`` / ``asr listen`` verify their candidates
    (:mod:`asr.spotting.verify`): ``verify`` if given, else as the calibration did (one written
    before verification existed: no), else yes. Calibrated thresholds hold only for the scores
    they were set on: asking for the other pass without one's own threshold is an error."""
    stored = bool(record.get("verify", False)) if record else None
    if verify is None:
        return True if stored is None else stored
    if stored is not None and verify != stored and not own_threshold:
        flag = "--verify" if verify else "--no-verify"
        raise AsrError(f"the calibrated thresholds are for {'verified' if stored else 'first-pass'}"
                       f" scores: run asr calibrate {flag}, or give --threshold")
    return bool(verify)


def resolve_thresholds(recognizer, record: dict, words, threshold=None, rate=None) -> dict:
    """The thresholds ``asr spot`` uses: ``threshold`` for every word, else those for ``rate``
    from the stored negative scores, else the stored thresholds."""
    if threshold is not None:
        return {w: float(threshold) for w in words}
    if not record:
        raise AsrError("no calibrated thresholds in this experiment: run asr calibrate, or "
                       "give --threshold")
    if rate is not None:
        stored = thresholds_for_rate(record["negative_scores"], record["negative_hours"], rate)
    else:
        stored = record["thresholds"]
    missing = [w for w in words if w not in stored]
    if missing:
        raise AsrError(f"no calibrated threshold for {', '.join(missing)} (enrolled after "
                       f"asr calibrate?): run asr calibrate again, or give --threshold")
    return {w: float(stored[w]) for w in words}

