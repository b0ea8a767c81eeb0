r"""Unsupervised adaptation to a test speaker: his own confident answers become exemplars.

A recognizer trained on a few speakers errs on a new one systematically (one speaker's "6"
heard as "8" again and again), yet most of his utterances it gets right with a large margin.
Those answers are taken as labels, and each of his utterances is compared, by plain DTW, with
his confidently recognized ones (speaker-adaptive templates taken from the speaker himself):
the utterances a model gets wrong are often close to the same speaker's utterances of the same
word that it got right. This gives a second expert, combined with equal weight with the
recognizer's (or the ensemble's) energies :math:`E` by :func:`asr.ensemble.combine_energies`,
:math:`E' = \mathrm{std}(E) + \mathrm{std}(E_\text{self})`, where

.. math::

    E_\text{self}(y, X_u) = \min_{v \in C_y,\ v \ne u,\ s(v) = s(u)}
        \frac{\mathrm{DTW}(X_u, X_v)}{N_u + N_v},

with :math:`C` the ``fraction`` of utterances of largest margin (per speaker :math:`s`),
:math:`C_y` those answered :math:`y`, :math:`\mathrm{DTW}` the symmetric2 accumulated squared
distance between front-end features. A word without a confident exemplar gets the mean of the
other words' energies in that row (no preference either way once standardized).

It is transductive: it needs many utterances of the test speaker at once (a manifest), never
their labels.
"""

import math
from collections.abc import Sequence

import torch


def confident_answers(energies: torch.Tensor, speakers: Sequence[str],
                      fraction: float) -> torch.Tensor:
    """Boolean mask [B]: per speaker, the ``ceil(fraction * n)`` utterances of largest margin."""
    from asr.evaluate import decide

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    _, margins = decide(energies)
    mask = torch.zeros(len(speakers), dtype=torch.bool)
    for speaker in sorted(set(speakers)):
        rows = torch.tensor([i for i, s in enumerate(speakers) if s == speaker])
        keep = math.ceil(fraction * len(rows))
        mask[rows[torch.argsort(margins[rows], descending=True, stable=True)[:keep]]] = True
    return mask


def self_exemplar_energies(features: Sequence[torch.Tensor], speakers: Sequence[str],
                           energies: torch.Tensor, fraction: float) -> torch.Tensor:
    """The energies :math:`E_\\text{self}` [B, W] of the module docstring.

    ``features``: each utterance's front-end features [T_i, D]; ``energies`` [B, W]: the
    recognizer's (or ensemble's) energies, whose answers and margins pick the exemplars.
    """
    from asr.dtw import pairwise_dtw

    if len(features) != energies.shape[0] or len(speakers) != energies.shape[0]:
        raise ValueError(f"{len(features)} feature sequences and {len(speakers)} speakers for "
                         f"{energies.shape[0]} rows of energies")
    answers = energies.argmin(dim=1)
    exemplars = confident_answers(energies, speakers, fraction).nonzero().flatten()
    with torch.no_grad():
        distances = pairwise_dtw(list(features), [features[i] for i in exemplars.tolist()],
                                 step="symmetric2", normalize=True).double()
    speaker_ids = {s: k for k, s in enumerate(sorted(set(speakers)))}
    ids = torch.tensor([speaker_ids[s] for s in speakers])
    other = ids[:, None] != ids[exemplars][None, :]
    itself = torch.arange(len(speakers))[:, None] == exemplars[None, :]
    distances[other | itself] = math.inf
    out = torch.full(energies.shape, math.inf, dtype=torch.float64)
    for word in range(energies.shape[1]):
        columns = answers[exemplars] == word
        if columns.any():
            out[:, word] = distances[:, columns].min(dim=1).values
    finite = torch.isfinite(out)
    row_mean = (torch.where(finite, out, 0.0).sum(dim=1, keepdim=True)
                / finite.sum(dim=1, keepdim=True).clamp(min=1))
    return torch.where(finite, out, row_mean).to(energies.dtype)
