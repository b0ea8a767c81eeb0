r"""Scoring a recognizer from its energies: accuracy, confusions, and the accuracy-rejection curve.

The recognizer answers the word of lowest energy, :math:`\hat y = \arg\min_y E(W, y, X)`; its
confidence is the *margin* :math:`E_{(2)} - E_{(1)} \ge 0` between the runner-up's energy and the
winner's. Rejecting every utterance whose margin is below a threshold :math:`t` trades coverage for
error; sweeping :math:`t` gives the accuracy-rejection curve, summarized by the rejection rate
needed to bring the error among accepted utterances down to 1% and to 0.1%.

>>> import torch
>>> energies = torch.tensor([[0.1, 2.0], [1.0, 1.2], [3.0, 0.5], [0.9, 1.0]])
>>> result = score(energies, torch.tensor([0, 1, 1, 0]), ["yes", "no"])
>>> result["accuracy"], result["rejection_for_error"]["0.01"]
(0.75, 0.5)
"""

import numpy as np
import torch

ERROR_TARGETS = (0.01, 0.001)


def decide(energies):
    """Best word and margin of each row of an energy matrix.

    Parameters
    ----------
    energies : Tensor [B, W]
        Energy of every word for every utterance.

    Returns
    -------
    best : LongTensor [B]
        :math:`\\arg\\min_y E_y`.
    margin : Tensor [B]
        Runner-up energy minus best energy (>= 0; ``inf`` with a one-word vocabulary).
    """
    if energies.ndim != 2 or energies.shape[1] < 1:
        raise ValueError(f"energies must be [batch, words], got {tuple(energies.shape)}")
    if energies.shape[1] == 1:
        return (torch.zeros(energies.shape[0], dtype=torch.long),
                torch.full((energies.shape[0],), float("inf"), dtype=energies.dtype))
    two_lowest, order = energies.topk(2, dim=1, largest=False)
    return order[:, 0], two_lowest[:, 1] - two_lowest[:, 0]


def rejection_curve(margins, correct):
    """Error among accepted utterances as a function of the rejection rate.

    Utterances are accepted when their margin is at least a threshold; thresholds run over the
    distinct margins (ties are accepted or rejected together), from accepting all to accepting none.

    Returns
    -------
    curve : list of dict
        ``{"threshold", "rejection", "error"}`` for each threshold, rejection increasing.
    """
    margins = np.asarray(margins, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    n = len(margins)
    order = np.argsort(-margins, kind="stable")
    sorted_margins = margins[order]
    errors = np.cumsum(~correct[order])  # errors among the k+1 most confident
    curve = []
    # the last index of each run of equal margins: accepting down to it accepts the whole tie
    ends = np.flatnonzero(np.append(sorted_margins[1:] != sorted_margins[:-1], True))
    for end in ends[::-1]:
        accepted = end + 1
        curve.append(
            {
                "threshold": float(sorted_margins[end]),
                "rejection": float(1.0 - accepted / n),
                "error": float(errors[end]) / accepted,
            }
        )
    curve.append({"threshold": float("inf"), "rejection": 1.0, "error": 0.0})
    return curve


def rejection_for_error(curve, target):
    """Smallest rejection rate at which the error among accepted utterances is <= ``target``."""
    return float(min(point["rejection"] for point in curve if point["error"] <= target))


def confusion_matrix(labels, predictions, num_words):
    """Counts [W, W]: row = true word, column = recognized word."""
    matrix = np.zeros((num_words, num_words), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predictions)), 1)
    return matrix


def score(energies, labels, words):
    """Every figure of merit of one evaluation, as a JSON-ready dict.

    Parameters
    ----------
    energies : Tensor [B, W]
    labels : LongTensor [B]
        Index of the true word of each utterance in ``words``.
    words : list of str
        The vocabulary, in column order.
    """
    energies = torch.as_tensor(energies, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    best, margin = decide(energies)
    correct = (best == labels).numpy()
    curve = rejection_curve(margin.numpy(), correct)
    accuracy = float(correct.mean()) if len(correct) else 0.0
    return {
        "num_utterances": int(len(correct)),
        "accuracy": accuracy,
        "error": 1.0 - accuracy,
        "mean_margin": float(margin.mean()) if len(correct) else 0.0,
        "rejection_for_error": {str(t): rejection_for_error(curve, t) for t in ERROR_TARGETS},
        "words": list(words),
        "confusion": confusion_matrix(labels.numpy(), best.numpy(), len(words)).tolist(),
        "rejection_curve": curve,
    }


def format_table(result):
    """A small plain-text table of the headline figures of :func:`score`."""
    rows = [
        ("utterances", f"{result['num_utterances']}"),
        ("accuracy", f"{100 * result['accuracy']:.2f}%"),
        ("error", f"{100 * result['error']:.2f}%"),
        ("mean margin", f"{result['mean_margin']:.4f}"),
    ]
    for target, rejection in result["rejection_for_error"].items():
        rows.append((f"rejection for {100 * float(target):g}% error", f"{100 * rejection:.1f}%"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value:>8}" for name, value in rows)
