r"""Unsupervised adaptation to a test speaker: his own confident answers become exemplars.

A recognizer trained on a few speakers errs on a new one systematically (one speaker's "6" heard as
"8" again and again), yet most of his utterances it gets right with a large margin. Those answers
are taken as labels, and each of his utterances is compared, by plain DTW, with his confidently
recognized ones (speaker-adaptive templates taken from the speaker himself): the utterances a model
gets wrong are often close to the same speaker's utterances of the same word that it got right. This
gives a second expert, combined with equal weight with the recognizer's (or the ensemble's) energies
:math:`E` by :func:`asr.recognition.ensemble.combine_energies`,
:math:`E' = \mathrm{std}(E) + \mathrm{std}(E_\text{self})`, where

.. math::

    E_\text{self}(y, X_u) = \min_{v \in C_y,\ v \ne u,\ s(v) = s(u)}
        \frac{\mathrm{DTW}(X_u, X_v)}{N_u + N_v},

with :math:`C` the ``fraction`` of utterances of largest margin (per speaker :math:`s`),
:math:`C_y` those answered :math:`y`, :math:`\mathrm{DTW}` the symmetric2 accumulated squared
distance between front-end features. A word without a confident exemplar gets the mean of the
other words' energies in that row (no preference either way once standardized).

:func:`self_exemplar_energies` is transductive: it needs many utterances of the test speaker at
once (a manifest), never their labels. :class:`OwnExemplars` is its online form, for a speaker
met one utterance at a time (``asr eval --online --own-exemplars K``, ``asr recognize --speaker
NAME --own-exemplars K``): the exemplars of word :math:`y` are the :math:`K` *earlier*
utterances of the speaker answered :math:`y` with the largest margins (answer and margin of the
recognizer without this expert), distances are taken between raw front-end features (the same
speaker and channel on both sides, so no normalization is needed), and the expert abstains (a
constant row, which standardizes to zero) until every word of the vocabulary has an exemplar, so
that a word is never preferred for being the only one the speaker has said.
"""

import math
from collections.abc import Sequence

import torch

from asr.errors import AsrError


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


class OwnExemplars:
    """One speaker's own exemplars, met online: per word, the ``per_word`` earlier utterances
    answered that word with the largest margins (see the module docstring).

    Parameters
    ----------
    num_words : int
        Size of the vocabulary.
    per_word : int
        :math:`K`, the exemplars kept per word.
    """

    def __init__(self, num_words: int, per_word: int):
        if num_words < 2 or per_word < 1:
            raise ValueError(f"need >= 2 words and >= 1 exemplar per word, got {num_words} "
                             f"and {per_word}")
        self.num_words = int(num_words)
        self.per_word = int(per_word)
        self.pools: list[list[tuple[float, torch.Tensor]]] = [[] for _ in range(num_words)]

    @property
    def ready(self) -> bool:
        """Whether every word has an exemplar (before that the expert abstains)."""
        return all(self.pools)

    def energies(self, features: torch.Tensor) -> torch.Tensor:
        """:math:`E_\\text{own}` [W] of one utterance's raw features [T, D]: for each word the
        smallest length-normalized symmetric2 DTW distance to its exemplars; all zeros while
        some word has none."""
        from asr.dtw import pairwise_dtw

        if not self.ready:
            return torch.zeros(self.num_words)
        exemplars = [f for pool in self.pools for _, f in pool]
        with torch.no_grad():
            distances = pairwise_dtw([features], exemplars, step="symmetric2",
                                     normalize=True)[0]
        out, start = torch.empty(self.num_words), 0
        for word, pool in enumerate(self.pools):
            out[word] = distances[start:start + len(pool)].min()
            start += len(pool)
        return out

    def add(self, features: torch.Tensor, answer: int, margin: float) -> None:
        """Offer a decided utterance: it joins word ``answer``'s exemplars if its margin is
        among the ``per_word`` largest there."""
        pool = self.pools[int(answer)]
        pool.append((float(margin), features.detach().float().clone()))
        pool.sort(key=lambda item: -item[0])  # stable: an earlier exemplar wins a tie
        del pool[self.per_word:]

    def to_dict(self) -> dict:
        """Plain tensors, lists and numbers (``torch.load(weights_only=True)`` reads them)."""
        return {"num_words": self.num_words, "per_word": self.per_word,
                "margins": [[m for m, _ in pool] for pool in self.pools],
                "features": [[f for _, f in pool] for pool in self.pools]}

    @classmethod
    def from_dict(cls, data: dict) -> "OwnExemplars":
        try:
            own = cls(int(data["num_words"]), int(data["per_word"]))
            margins, features = data["margins"], data["features"]
            if len(margins) != own.num_words or len(features) != own.num_words:
                raise ValueError("one pool per word")
            for word in range(own.num_words):
                if len(margins[word]) != len(features[word]):
                    raise ValueError("one margin per exemplar")
                own.pools[word] = [(float(m), torch.as_tensor(f).float())
                                   for m, f in zip(margins[word], features[word], strict=True)]
                if any(f.ndim != 2 for _, f in own.pools[word]):
                    raise ValueError("exemplars are [frames, dims]")
        except (KeyError, TypeError, ValueError) as exc:
            raise AsrError(f"not a set of own exemplars ({exc})") from None
        return own


def own_exemplar_energies(features: Sequence[torch.Tensor], speakers: Sequence[str],
                          energies: torch.Tensor, order: Sequence[int],
                          per_word: int) -> torch.Tensor:
    """:math:`E_\\text{own}` [B, W] of a manifest met online: utterance ``order[0]`` first,
    each speaker with his own :class:`OwnExemplars`, offered each of his utterances after it is
    scored (answer and margin from ``energies``, the recognizer's). The same as scoring the
    files one by one with :class:`OwnExemplars`, computed with one DTW matrix per speaker."""
    from asr.dtw import pairwise_dtw
    from asr.evaluate import decide

    n, num_words = energies.shape
    if len(features) != n or len(speakers) != n or sorted(order) != list(range(n)):
        raise ValueError(f"{len(features)} feature sequences, {len(speakers)} speakers and an "
                         f"order of {len(order)} for {n} rows of energies")
    answers, margins = decide(energies)
    out = torch.zeros(n, num_words)
    for speaker in sorted(set(speakers)):
        rows = [i for i in order if speakers[i] == speaker]
        with torch.no_grad():
            distances = pairwise_dtw([features[i] for i in rows], [features[i] for i in rows],
                                     step="symmetric2", normalize=True)
        pools: list[list[tuple[float, int]]] = [[] for _ in range(num_words)]  # (margin, k)
        for k, i in enumerate(rows):
            if all(pools):
                for word, pool in enumerate(pools):
                    out[i, word] = distances[k, [j for _, j in pool]].min()
            pool = pools[int(answers[i])]
            pool.append((float(margins[i]), k))
            pool.sort(key=lambda item: -item[0])
            del pool[per_word:]
    return out
