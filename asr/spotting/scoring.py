r"""Scoring hits against a stream's references: detection rate, false alarms per hour, DET.

A reference keyword is detected by a hit of the same word whose interval overlaps the
reference's, widened by ``collar`` seconds on each side; each hit detects at most one reference
and each reference counts once. Every other hit is a false alarm (a wrong word, a hit on a
non-keyword clip, on noise, or a second hit on the same word). With :math:`H` hours of audio,

.. math:: \text{detection} = \frac{\#\text{detected}}{\#\text{keywords}}, \qquad
          \text{FA/h} = \frac{\#\text{false alarms}}{H}.

The DET curve sweeps one threshold :math:`\tau` over the hits' scores (hits with score below
:math:`\tau` are kept); run ``asr spot --threshold inf`` for the hits it needs (the suppression
then ran without threshold, so the curve approximates reruns at each :math:`\tau`).
"""

from __future__ import annotations

import numpy as np


def match_hits(hits, references, words=None, collar: float = 0.1):
    """Flags ``(correct [hits], detected [references])``: which hits are true detections and
    which keyword references they found (greedy, best score first)."""
    words = None if words is None else set(words)
    keys = [i for i, r in enumerate(references) if r.keyword and (words is None or
                                                                  r.word in words)]
    detected = np.zeros(len(references), dtype=bool)
    correct = np.zeros(len(hits), dtype=bool)
    for h in sorted(range(len(hits)), key=lambda i: hits[i]["score"]):
        hit = hits[h]
        best, overlap = None, 0.0
        for i in keys:
            r = references[i]
            if detected[i] or r.word != hit["word"]:
                continue
            o = min(hit["end"], r.end + collar) - max(hit["start"], r.start - collar)
            if o > overlap:
                best, overlap = i, o
        if best is not None:
            detected[best] = True
            correct[h] = True
    return correct, detected, len(keys)


def score_hits(hits, references, seconds, words=None, collar=0.1) -> dict:
    """Detection rate and false alarms per hour of one set of hits."""
    correct, detected, keywords = match_hits(hits, references, words, collar)
    hours = seconds / 3600.0
    return {"keywords": keywords, "detected": int(detected.sum()),
            "detection": float(detected.sum() / max(keywords, 1)),
            "false_alarms": int((~correct).sum()),
            "false_alarms_per_hour": float((~correct).sum() / hours), "hours": hours}


def det_curve(hits, references, seconds, words=None, collar=0.1):
    """Detection rate and false alarms per hour at every threshold :math:`\\tau` (the hits'
    scores, ascending): arrays ``(tau, detection, fa_per_hour)``."""
    correct, _, keywords = match_hits(hits, references, words, collar)
    scores = np.array([h["score"] for h in hits])
    order = np.argsort(scores, kind="stable")
    hours = seconds / 3600.0
    # the matching is greedy by score, so the hits kept at tau match as in the full set
    detection = np.cumsum(correct[order]) / max(keywords, 1)
    fa = np.cumsum(~correct[order]) / hours
    return scores[order], detection, fa


def detection_at(det, rate: float) -> tuple[float, float]:
    """Best detection rate with at most ``rate`` false alarms per hour, and its threshold."""
    tau, detection, fa = det
    ok = fa <= rate + 1e-9
    if not ok.any():
        return 0.0, float("-inf")
    i = int(np.flatnonzero(ok)[np.argmax(detection[ok])])
    return float(detection[i]), float(tau[i])


def plot_det(path, curves: dict, rate=None, title=None):
    """Miss rate against false alarms per hour, one line per system (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, (_, detection, fa) in curves.items():
        ax.step(np.maximum(fa, 1e-2), 100 * (1 - detection), where="post", label=name)
    if rate is not None:
        ax.axvline(rate, color="0.5", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("false alarms per hour")
    ax.set_ylabel("miss rate (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", lw=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
