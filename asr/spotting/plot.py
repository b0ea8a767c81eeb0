"""The spotting picture: waveform, features, each word's score track, and the hits."""

from __future__ import annotations

import numpy as np


def plot_spotting(path, wave, sample_rate, features, hop_seconds, tracks, frame_seconds, words,
                  hits, thresholds=None, references=None, title=None):
    """Save a PNG: the waveform (hits shaded, reference words above it), the feature frames,
    and the score track :math:`s_w(t)` of every word (lower is better; thresholds dashed, hits
    as dots). ``tracks`` [T, W]; ``references``: ``(word, start, end)`` triples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(12, 7), sharex=True,
                             gridspec_kw={"height_ratios": [1, 1.2, 2]})
    t = np.arange(len(wave)) / sample_rate
    axes[0].plot(t, wave, lw=0.4, color="0.3")
    colors = plt.get_cmap("tab10")
    for h in hits:
        c = colors(words.index(h.word) % 10)
        axes[0].axvspan(h.start, h.end, color=c, alpha=0.25)
        axes[0].text((h.start + h.end) / 2, 0.92, h.word, ha="center", va="top", fontsize=8,
                     transform=axes[0].get_xaxis_transform(), color=c, weight="bold")
    for word, start, end in references or []:
        axes[0].annotate("", xy=(start, 1.02), xytext=(end, 1.02),
                         xycoords=("data", "axes fraction"),
                         arrowprops={"arrowstyle": "-", "color": "k", "lw": 2})
        axes[0].text((start + end) / 2, 1.04, word, ha="center", fontsize=7,
                     transform=axes[0].get_xaxis_transform())
    axes[0].set_ylabel("waveform")
    feats = np.asarray(features, dtype=np.float64)
    feats = (feats - feats.mean(axis=0)) / np.maximum(feats.std(axis=0), 1e-9)
    axes[1].imshow(feats.T, aspect="auto", origin="lower", cmap="magma", vmin=-3, vmax=3,
                   extent=[0, len(feats) * hop_seconds, 0, feats.shape[1]])
    axes[1].set_ylabel("features (standardized)")
    frames = np.arange(len(tracks)) * frame_seconds + frame_seconds
    for w, word in enumerate(words):
        c = colors(w % 10)
        axes[2].plot(frames, tracks[:, w], lw=0.8, color=c, label=word)
        if thresholds is not None and np.isfinite(thresholds[w]):
            axes[2].axhline(thresholds[w], color=c, lw=0.6, ls="--")
    for h in hits:
        axes[2].plot(h.end, h.score, "o", color=colors(words.index(h.word) % 10), ms=5,
                     mec="k")
    finite = tracks[np.isfinite(tracks)]
    if finite.size:
        low, high = np.percentile(finite, [0, 60])
        axes[2].set_ylim(low - 0.05 * (high - low + 1e-9), high)
    axes[2].set_ylabel("score (lower = better match)")
    axes[2].set_xlabel("time (s)")
    axes[2].legend(ncol=min(len(words), 10), fontsize=7, loc="upper right")
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
