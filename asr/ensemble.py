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


def combine_energies(energies: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum of the standardized energies [B, W] of several experts (see the module docstring)."""
    if not energies:
        raise ValueError("combine_energies needs at least one energy matrix")
    shape = energies[0].shape
    for e in energies[1:]:
        if e.shape != shape:
            raise ValueError(f"energy matrices differ in shape: {tuple(shape)} vs {tuple(e.shape)}")
    return torch.stack([standardize_energies(e) for e in energies]).sum(dim=0)
