r"""Loss functionals on energies, after LeCun et al., "A Tutorial on Energy-Based Learning" (2006).

Every loss takes an energy matrix ``energies`` [B, W] (one row per utterance, one column per word,
lower is better) and the correct labels ``labels`` [B] (long), and returns the mean over the batch.
With :math:`E_C` the energy of the correct word and :math:`E_I` the energy of the *most offending
incorrect answer* (the lowest-energy wrong word),

.. math::

    E_C = E(W, Y^i, X^i), \qquad E_I = \min_{y \ne Y^i} E(W, y, X^i).

A good loss pushes :math:`E_C` down and pulls :math:`E_I` up; the plain ``energy`` loss only pushes
down and collapses (every energy goes to zero) as soon as the machine can make all energies equal.

Energies can be negative. The hard-minimum energy (``model.gamma = 0``) is a mean of local
distances, so :math:`E \ge 0`; the soft minimum over paths and templates is a free energy,
:math:`-\gamma \log \sum_z e^{-E_z/\gamma} \ge \min_z E_z - \gamma \log |Z|`, which falls
below 0 when many paths are nearly as good as the best. Every loss here is correct for any real
energies: the losses written for distances (``lvq2``, ``square-square``, ``square-exp``) take
0 as the lowest energy worth reaching (:math:`E_C^+ = \max(E_C, 0)`) and measure the LVQ2
window on :math:`|E_I|`, so their gradients never push a correct answer's energy up.
"""

import math

import torch
import torch.nn.functional as F


def correct_and_offending(energies, labels):
    r"""Split an energy matrix into the correct answer's energy and the most offending one's.

    Parameters
    ----------
    energies : Tensor [B, W]
        Energies of every word for every utterance (W >= 2).
    labels : Tensor [B]
        Index of the correct word of each utterance.

    Returns
    -------
    e_correct, e_offending : Tensor [B]
        :math:`E_C` and :math:`E_I = \min_{y \ne C} E_y`.
    """
    _check(energies, labels)
    e_correct = energies.gather(1, labels[:, None]).squeeze(1)
    is_correct = F.one_hot(labels, energies.shape[1]).bool()
    e_offending = energies.masked_fill(is_correct, float("inf")).amin(dim=1)
    return e_correct, e_offending


def energy(energies, labels):
    r"""Energy loss :math:`L = E_C` (tutorial, section 2.2).

    Pushes the correct answer's energy down and nothing up: with a flexible architecture it
    collapses, every energy going to the same low value. Kept to show that.
    """
    e_correct, _ = correct_and_offending(energies, labels)
    return e_correct.mean()


def perceptron(energies, labels):
    r"""Generalized perceptron loss :math:`L = E_C - \min_y E_y` (tutorial, section 2.2).

    Zero when the correct word has the lowest energy; no margin, so it does not prevent a collapse
    where all energies become equal.
    """
    e_correct, _ = correct_and_offending(energies, labels)
    return (e_correct - energies.amin(dim=1)).mean()


def hinge(energies, labels, margin=1.0):
    r"""Hinge loss :math:`L = \max(0,\; m + E_C - E_I)`, margin :math:`m > 0`
    (tutorial, section 2.2)."""
    e_correct, e_offending = correct_and_offending(energies, labels)
    return F.relu(margin + e_correct - e_offending).mean()


def log(energies, labels):
    r"""Log loss :math:`L = \log(1 + e^{E_C - E_I})` (tutorial, section 2.2), a soft hinge with an
    infinite margin."""
    e_correct, e_offending = correct_and_offending(energies, labels)
    return F.softplus(e_correct - e_offending).mean()


def lvq2(energies, labels, delta=0.1):
    r"""LVQ2 loss :math:`L = \min\bigl(1, \max\bigl(0, \frac{E_C - E_I}{\delta E_I}\bigr)\bigr)`
    (tutorial, section 2.2; Kohonen 1990; Driancourt & Bottou 1991).

    Zero when the utterance is recognized (:math:`E_C < E_I`); linear in :math:`E_C - E_I` while the
    correct answer lies within the window :math:`\delta E_I` behind the winner; saturated at 1 (no
    gradient) beyond it, so grossly misrecognized outliers are ignored. The window is measured
    on :math:`|E_I|` (clamped away from zero), so negative soft-min energies keep a window of the
    same width: :math:`L = \min(1, \max(0, (E_C - E_I) / (\delta |E_I|)))`.
    """
    if delta <= 0:
        raise ValueError(f"lvq2: delta must be > 0, got {delta}")
    e_correct, e_offending = correct_and_offending(energies, labels)
    ratio = (e_correct - e_offending) / (delta * e_offending.abs().clamp_min(1e-8))
    return ratio.clamp(0.0, 1.0).mean()


def mce(energies, labels, alpha=1.0, theta=0.0, eta=1.0):
    r"""Minimum classification error loss (Juang & Katagiri 1992; tutorial, section 2.2).

    .. math::

        d = E_C + \frac{1}{\eta} \log \Bigl(\frac{1}{W-1} \sum_{y \ne C} e^{-\eta E_y}\Bigr),
        \qquad L = \sigma(\alpha d + \theta)

    :math:`d` is the misclassification measure: the correct energy minus a soft minimum of the
    competitors' energies (the hard minimum :math:`E_I` as :math:`\eta \to \infty`); the sigmoid
    makes :math:`L` a smooth count of errors.
    """
    if eta <= 0:
        raise ValueError(f"mce: eta must be > 0, got {eta}")
    e_correct, _ = correct_and_offending(energies, labels)
    is_correct = F.one_hot(labels, energies.shape[1]).bool()
    competitors = (-eta * energies).masked_fill(is_correct, float("-inf"))
    log_mean = torch.logsumexp(competitors, dim=1) - math.log(energies.shape[1] - 1)
    d = e_correct + log_mean / eta
    return torch.sigmoid(alpha * d + theta).mean()


def mmi(energies, labels, beta=1.0):
    r"""MMI / negative log-likelihood loss (tutorial, section 2.2; Bengio 1992, Haffner 1993).

    .. math::

        L = E_C + \frac{1}{\beta} \log \sum_y e^{-\beta E_y}

    the negative log of the Gibbs posterior :math:`P(C|X) = e^{-\beta E_C} / \sum_y e^{-\beta E_y}`
    (divided by :math:`\beta`). Pushes the correct energy down and every energy up in proportion to
    its posterior.
    """
    if beta <= 0:
        raise ValueError(f"mmi: beta must be > 0, got {beta}")
    return F.cross_entropy(-beta * energies, labels) / beta


def square_square(energies, labels, margin=1.0):
    r"""Square-square loss :math:`L = \max(0, E_C)^2 + \max(0, m - E_I)^2` (tutorial, section
    2.2; Hadsell, Chopra & LeCun 2006). Written for distances (:math:`E \ge 0`); a negative
    (soft-min) :math:`E_C` is already as low as needed and costs nothing, instead of being pushed
    back up to 0 by :math:`E_C^2`."""
    e_correct, e_offending = correct_and_offending(energies, labels)
    return (F.relu(e_correct).square() + F.relu(margin - e_offending).square()).mean()


def square_exp(energies, labels, gamma=1.0):
    r"""Square-exponential loss :math:`L = \max(0, E_C)^2 + \gamma e^{-E_I}` (tutorial,
    section 2.2; LeCun & Huang 2005). Written for distances (:math:`E \ge 0`); a negative
    (soft-min) :math:`E_C` costs nothing rather than being pushed back up to 0."""
    e_correct, e_offending = correct_and_offending(energies, labels)
    return (F.relu(e_correct).square() + gamma * torch.exp(-e_offending)).mean()


def _check(energies, labels):
    if energies.ndim != 2 or energies.shape[1] < 2:
        raise ValueError(f"energies must be [batch, words>=2], got shape {tuple(energies.shape)}")
    if labels.ndim != 1 or labels.shape[0] != energies.shape[0]:
        raise ValueError(
            f"labels must be [batch={energies.shape[0]}], got shape {tuple(labels.shape)}"
        )
    if labels.numel() and (labels.min() < 0 or labels.max() >= energies.shape[1]):
        raise ValueError(f"labels must lie in [0, {energies.shape[1]}), got {labels.tolist()}")
