r"""Combining recognizers: a product of experts over the same vocabulary.

Recognizers trained differently (another front end, another loss, the plain DTW 1-nearest-
neighbour baseline) make different mistakes, especially on a speaker none of them has heard.
Their energies live on different scales, so each expert's energies of one utterance are first
standardized over the vocabulary, and the standardized energies are added:

.. math::

    E(y, X) = \sum_m \frac{E_m(y, X) - \mu_m(X)}{\sigma_m(X)}, \qquad
    \mu_m(X) = \frac{1}{|Y|} \sum_{y'} E_m(y', X), \quad
    \sigma_m(X)^2 = \frac{1}{|Y|} \sum_{y'} \big(E_m(y', X) - \mu_m(X)\big)^2 .

With the Gibbs distribution :math:`P(y \mid X) \propto \exp(-\beta E(y, X))` this is the product
of the experts' distributions, each at its own inverse temperature :math:`\beta / \sigma_m(X)`
(Hinton, 2002); the answer is still the word of lowest energy and the margin its confidence.

>>> import torch
>>> a = torch.tensor([[1.0, 2.0, 3.0]])
>>> combine_energies([a, 10 * a + 5]).round(decimals=4)   # scale and offset do not matter
tensor([[-2.4495,  0.0000,  2.4495]])
"""

from collections.abc import Sequence

import torch


def standardize_energies(energies: torch.Tensor) -> torch.Tensor:
    """Each row of ``energies`` [B, W] minus its mean, over its standard deviation.

    A row whose energies are all equal (no preference) becomes all zeros; ``+inf`` entries (no
    warping path to any template of that word) stay ``+inf`` and are left out of the statistics.
    """
    if energies.ndim != 2 or energies.shape[1] < 2:
        raise ValueError(f"energies must be [batch, words>=2], got {tuple(energies.shape)}")
    finite = torch.isfinite(energies)
    count = finite.sum(dim=1, keepdim=True).clamp(min=1)
    values = torch.where(finite, energies, torch.zeros_like(energies))
    mean = values.sum(dim=1, keepdim=True) / count
    var = torch.where(finite, (values - mean) ** 2, torch.zeros_like(values)).sum(
        dim=1, keepdim=True) / count
    std = var.sqrt()
    out = (values - mean) / torch.where(std > 0, std, torch.ones_like(std))
    return torch.where(finite, out, torch.full_like(out, float("inf")))


def combine_energies(energies: Sequence[torch.Tensor],
                     weights: Sequence[float] | None = None) -> torch.Tensor:
    r"""Weighted sum :math:`\sum_m w_m \tilde E_m` of the standardized energies [B, W] of
    several experts (see the module docstring; default: every :math:`w_m = 1`).

    >>> a, b = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])
    >>> combine_energies([a, b], weights=[2.0, 1.0])
    tensor([[-1.,  1.]])
    """
    if not energies:
        raise ValueError("combine_energies needs at least one energy matrix")
    shape = energies[0].shape
    for e in energies[1:]:
        if e.shape != shape:
            raise ValueError(f"energy matrices differ in shape: {tuple(shape)} vs {tuple(e.shape)}")
    if weights is None:
        weights = [1.0] * len(energies)
    if len(weights) != len(energies) or any(not w >= 0 for w in weights) or not any(weights):
        raise ValueError(f"weights must be one non-negative number per expert, not all 0; "
                         f"got {list(weights)} for {len(energies)} experts")
    # an expert of weight 0 is left out entirely (its +inf entries must not leak in)
    return sum(w * standardize_energies(e) for w, e in zip(weights, energies, strict=True)
               if w > 0)


def ensemble_accuracy(energies: Sequence[torch.Tensor], labels: torch.Tensor,
                      weights: Sequence[float] | None = None) -> float:
    """Fraction of utterances whose lowest combined energy (:func:`combine_energies`) is the
    label's."""
    return float((combine_energies(energies, weights).argmin(dim=1) == labels).float().mean())


def pick_weights(energies: Sequence[torch.Tensor], labels: torch.Tensor,
                 grid: Sequence[float] = (0.0, 0.5, 1.0, 2.0)) -> tuple[list[float], float]:
    """Expert weights that maximize accuracy on held-out utterances (a validation speaker).

    Every combination of ``grid`` values (one per expert, not all 0) is scored; ties go to the
    combination closest to equal weights, then to the first found. Returns the weights
    (scaled so that the largest is 1) and their accuracy.
    """
    import itertools

    best, best_key = None, None
    for combo in itertools.product(grid, repeat=len(energies)):
        if not any(combo):
            continue
        top = max(combo)
        w = [c / top for c in combo]
        accuracy = ensemble_accuracy(energies, labels, w)
        spread = sum((x - 1.0) ** 2 for x in w)
        key = (accuracy, -spread)
        if best_key is None or key > best_key:
            best, best_key = w, key
    return best, best_key[0]
