r"""Competitor pruning: align an utterance with its own word and the words that offend most.

A batch's loss needs the energies :math:`E_{b,w}` of every word, so every utterance is aligned
with every template: :math:`B \times W \times K` DTWs, the bulk of the training time with 40
words. But the losses hardly depend on far competitors: the MMI gradient with respect to
:math:`E_{b,w}` is the posterior :math:`p(w \mid X_b) \propto e^{-E_{b,w}}`, which vanishes as
:math:`E_{b,w} - E_{b,y}` grows, and the margin losses (LVQ2, MCE, hinge, perceptron) only see
the most offending competitor(s). So, in a pruned epoch, utterance :math:`b` is aligned with the
templates of its word :math:`y_b` and of the ``keep`` other words of lowest *stored* energy (its
energies from the last time it was scored in training); every other entry of the energy row is
the stored energy, a constant (no DTW, no gradient). The loss value is then exact up to the drift
of those constants, and the gradient drops only the far competitors' terms.

Every ``full_every``-th epoch (the first included) is a full pass: every word is aligned and
every stored energy refreshed, so a word that has come close is picked up again.
"""

from __future__ import annotations

import torch


class CompetitorPruner:
    """Stored energies [N, W] of the training utterances and the per-batch word masks.

    Parameters
    ----------
    num_utterances, num_words : int
        Size of the training set and of the vocabulary.
    keep : int
        Competitors kept per utterance in a pruned epoch (0: never prune).
    full_every : int
        Epochs ``1, 1 + full_every, 1 + 2 full_every, ...`` are full passes.

    Examples
    --------
    >>> p = CompetitorPruner(2, 4, keep=1, full_every=2)
    >>> e = torch.tensor([[0.0, 1.0, 5.0, 2.0], [3.0, 2.0, 1.0, 0.5]])
    >>> p.words(torch.tensor([0, 1]), torch.tensor([0, 2]), epoch=1) is None  # full pass
    True
    >>> _ = p.fill(torch.tensor([0, 1]), e, None)
    >>> p.words(torch.tensor([0, 1]), torch.tensor([0, 2]), epoch=2).int().tolist()
    [[1, 1, 0, 0], [0, 0, 1, 1]]
    """

    def __init__(self, num_utterances: int, num_words: int, keep: int, full_every: int):
        self.keep = int(keep)
        self.full_every = max(1, int(full_every))
        self.num_words = int(num_words)
        self.last = torch.full((num_utterances, num_words), float("nan"))  # NaN: never scored

    @property
    def active(self) -> bool:
        """Whether any epoch is pruned at all."""
        return 0 < self.keep < self.num_words - 1

    def full_epoch(self, epoch: int) -> bool:
        """Whether ``epoch`` (from 1) aligns every word."""
        return not self.active or (epoch - 1) % self.full_every == 0

    def words(self, index: torch.Tensor, labels: torch.Tensor, epoch: int) -> torch.Tensor | None:
        """[B, W] bool mask of the words to align for utterances ``index`` (None: all words).

        A batch holding an utterance without stored energies (not yet scored, e.g. after a
        resume) is aligned in full.
        """
        if self.full_epoch(epoch):
            return None
        last = self.last[index]
        if bool(torch.isnan(last).any()):
            return None
        rows = torch.arange(len(index))
        score = last.clone()
        score[rows, labels] = -float("inf")  # the correct word always comes first
        chosen = score.topk(self.keep + 1, dim=1, largest=False).indices
        mask = torch.zeros_like(last, dtype=torch.bool)
        mask.scatter_(1, chosen, True)
        return mask

    def combine(self, index: torch.Tensor, energies: torch.Tensor,
                words: torch.Tensor | None) -> torch.Tensor:
        """Full energy rows of utterances ``index``: the computed entries (differentiable)
        where ``words`` is True, the stored constants elsewhere (all computed if None)."""
        if words is None:
            return energies
        return torch.where(words, energies, self.last[index].to(energies.dtype))

    def store(self, index: torch.Tensor, computed: torch.Tensor,
              words: torch.Tensor | None) -> None:
        """Remember the computed energies [B, W] of utterances ``index`` (where ``words``)."""
        computed = computed.detach().float()
        self.last[index] = (computed if words is None
                            else torch.where(words, computed, self.last[index]))

    def fill(self, index: torch.Tensor, energies: torch.Tensor,
             words: torch.Tensor | None) -> torch.Tensor:
        """:meth:`combine` then :meth:`store`, for a single process."""
        out = self.combine(index, energies, words)
        self.store(index, energies, words)
        return out
