"""Scoring: decisions, confusions, and the accuracy-rejection curve against a brute-force sweep."""

import numpy as np
import pytest
import torch

from asr.evaluate import confusion_matrix, decide, rejection_curve, rejection_for_error, score


def test_decide_with_one_word_accepts_everything():
    best, margin = decide(torch.tensor([[3.0], [1.0]]))
    assert best.tolist() == [0, 0] and margin.tolist() == [float("inf")] * 2


def test_decide_picks_lowest_energy_and_margin():
    best, margin = decide(torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]))
    assert best.tolist() == [1, 0]
    assert margin.tolist() == [1.0, 4.0]


def test_rejection_curve_matches_brute_force_thresholds():
    rng = np.random.default_rng(0)
    margins = rng.integers(0, 12, size=200).astype(float)  # many ties
    correct = rng.random(200) < 0.3 + 0.05 * margins  # confident answers are more often right
    curve = rejection_curve(margins, correct)
    for point in curve[:-1]:
        accepted = margins >= point["threshold"]
        assert point["rejection"] == pytest.approx(1 - accepted.mean())
        assert point["error"] == pytest.approx((~correct[accepted]).mean())
    rejections = [p["rejection"] for p in curve]
    assert rejections == sorted(rejections) and rejections[0] == 0.0 and rejections[-1] == 1.0
    for target in (0.3, 0.1, 0.01):
        best = min(
            1 - (margins >= t).mean()
            for t in [*np.unique(margins), np.inf]
            if (margins >= t).sum() == 0 or (~correct[margins >= t]).mean() <= target
        )
        assert rejection_for_error(curve, target) == pytest.approx(best)


def test_no_errors_needs_no_rejection():
    curve = rejection_curve([0.5, 0.2, 0.9], [True, True, True])
    assert rejection_for_error(curve, 0.001) == 0.0


def test_confusion_matrix_counts():
    m = confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_score_is_consistent():
    energies = torch.rand(50, 4)
    labels = torch.randint(0, 4, (50,))
    result = score(energies, labels, list("abcd"))
    confusion = np.array(result["confusion"])
    assert confusion.sum() == 50
    assert result["accuracy"] == pytest.approx(np.trace(confusion) / 50)
    assert result["accuracy"] + result["error"] == pytest.approx(1.0)
