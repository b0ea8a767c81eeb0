"""The spotter's suppression and scores on hand-made score tracks: a poor partial match must
not block the full match that ends a little later, a threshold-free run must agree with a
thresholded one, and the competitor normalization never yields nan or -inf."""

import numpy as np

from asr.spotting.engine import WINDOW_SECONDS
from asr.spotting.suppression import Suppressor

FRAME = 0.02  # output frame period of the FSDD spotting config (10 ms hop, subsampling 2)


def _tracks():
    """Two words over 40 frames: word 0 has a poor candidate (30) ending at frame 10, match
    [3, 10]; word 1 the good one (10) ending at 16, match [6, 16], 6 frames later (0.12 s:
    outside a 0.1 s window, inside the default), overlapping the first by 5 frames (more than
    half of the shorter)."""
    scores = np.full((40, 2), 50.0)
    starts = np.zeros((40, 2), dtype=np.int64)
    scores[10, 0], starts[10, 0] = 30.0, 3
    scores[16, 1], starts[16, 1] = 10.0, 6
    return scores, starts


def _run(scores, starts, threshold, window):
    s = Suppressor(np.full(scores.shape[1], threshold), [np.arange(scores.shape[1])], window)
    s.push(scores, starts)
    return [(w, first, last, score) for w, first, last, score, _ in s.decide(final=True)]


def test_a_poor_partial_match_does_not_block_the_full_one():
    scores, starts = _tracks()
    window = int(round(WINDOW_SECONDS / FRAME))
    hits = _run(scores, starts, np.inf, window)
    assert (1, 6, 16, 10.0) in hits and (0, 3, 10, 30.0) not in hits
    # the defect with a 0.1 s window: the poor candidate is a hit and blocks the good one
    short = _run(scores, starts, np.inf, 5)
    assert (0, 3, 10, 30.0) in short and (1, 6, 16, 10.0) not in short


def test_threshold_free_hits_below_tau_are_those_of_a_run_at_tau():
    """The DET curve reads detection at tau off the threshold-free run: it must be what a run
    with threshold tau gives."""
    scores, starts = _tracks()
    window = int(round(WINDOW_SECONDS / FRAME))
    free = _run(scores, starts, np.inf, window)
    for tau in (15.0, 25.0, 40.0):
        assert [h for h in free if h[3] < tau] == _run(scores, starts, tau, window)
