r"""Subsequence DTW: the whole template against any stretch of a (long, streaming) sequence.

For a template of :math:`M` frames and a stream of frames :math:`i = 0, 1, \dots`, with local
cost :math:`c(i, j)`, the accumulated cost :math:`D(i, j)` of the best path that starts at any
cell :math:`(s, 0)` and ends at :math:`(i, j)` follows (step weights :math:`w_d` on the diagonal,
1 otherwise; ``symmetric2``: :math:`w_d = 2`, ``symmetric1``: :math:`w_d = 1`)

.. math::

    D(i, 0) &= \min\{w_d\, c(i, 0),\ D(i-1, 0) + c(i, 0)\} \quad \text{(free start)}

    D(i, j) &= \min\{D(i-1, j-1) + w_d\, c(i, j),\ D(i-1, j) + c(i, j),\ D(i, j-1) + c(i, j)\}

and the match of the template ending at stream frame :math:`i` costs :math:`D(i, M-1)` (Müller,
*Fundamentals of Music Processing*, 2015, sec. 7.2: subsequence DTW; ``librosa.sequence.dtw``
with ``subseq=True`` for ``symmetric1``).

``itakura`` constrains the slope (Itakura, 1975): every step advances the stream by one frame and
the template by 0, 1 or 2 frames, never by 0 twice in a row, every cell weighing 1,

.. math::

    D(i, j) = c(i, j) + \min\{D_{\ne 0}(i-1, j),\ D(i-1, j-1),\ D(i-1, j-2)\},

(:math:`D_{\ne 0}`: a cell not itself entered by a 0-step), so a match spans between
:math:`M/2` and :math:`2M` stream frames: a template can be neither squeezed into a few frames
nor stretched over a long stretch, which spotting needs (with the symmetric patterns a whole
template may match one or two stream frames).

**Length normalization.** The raw cost grows with the path, so a short or loose template would
be preferred over a long one. With ``normalize=True`` the score is the cost per unit of path
weight, :math:`D(i, M-1) / L(i, M-1)`, with :math:`L` the sum of the step weights along the
path (:math:`= N_s + M` for ``symmetric2``, :math:`N_s` frames of stream matched), and every
``min`` above compares candidates by their normalized cost :math:`(D + w c) / (L + w)`, the
local decision rule of normalized subsequence DTW (a greedy approximation of the best normalized
path; it never picks a degenerate one-frame match just because it is short). Scores of
different templates and words are then comparable: a mean local cost.

The trellis keeps one row per template, so memory is :math:`O(\sum_k M_k)` whatever the
stream's length, and :class:`SubsequenceMatcher` processes a stream in blocks with the same
result as in one piece.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from asr.dtw import _subsequence as K
from asr.dtw.steps import DtwInputError

__all__ = ["SubsequenceMatcher", "subsequence_dtw"]

DIAG_WEIGHTS = {"symmetric1": 1.0, "symmetric2": 2.0}
STEPS = (*DIAG_WEIGHTS, "itakura")


class SubsequenceMatcher:
    """Running subsequence DTW of several templates against one stream.

    Parameters
    ----------
    lengths : sequence of int
        Frames :math:`M_k` of each template (each >= 1).
    step : {"symmetric2", "symmetric1", "itakura"}
    normalize : bool
        Length-normalized decisions and scores (see the module docstring).

    Examples
    --------
    >>> cost = np.array([[5., 5.], [0., 5.], [5., 0.], [5., 5.]])  # template of 2 frames
    >>> m = SubsequenceMatcher([2], step="symmetric1", normalize=False)
    >>> score, start = m.push(cost)
    >>> score[:, 0].tolist(), int(start[2, 0])
    ([10.0, 5.0, 0.0, 5.0], 1)
    """

    def __init__(self, lengths: Sequence[int], step: str = "symmetric2", normalize: bool = True):
        lengths = [int(m) for m in lengths]
        if not lengths or min(lengths) < 1:
            raise DtwInputError("subsequence DTW needs at least one template of >= 1 frame")
        if step not in STEPS:
            raise DtwInputError(f"subsequence DTW step must be one of {list(STEPS)}, "
                                f"got {step!r}")
        self.step = step
        self.lengths = lengths
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.diag_weight = DIAG_WEIGHTS.get(step, 1.0)
        self.normalize = bool(normalize)
        self.rows = 0
        total = int(self.offsets[-1])
        self._state = K.new_itakura_state(total) if step == "itakura" else K.new_state(total)

    def push(self, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Advance by the rows of ``cost`` [N, sum(M_k)] (new stream frames against every
        template frame); returns ``score`` float64 [N, K] (match of template ``k`` ending at
        each new frame) and ``start`` int64 [N, K] (the stream frame where it starts)."""
        cost = np.ascontiguousarray(cost, dtype=np.float64)
        if cost.ndim != 2 or cost.shape[1] != self.offsets[-1]:
            raise DtwInputError(f"cost must be [N, {int(self.offsets[-1])}], "
                                f"got {list(cost.shape)}")
        if np.isnan(cost).any():
            raise DtwInputError("cost contains NaN")
        n, k = cost.shape[0], len(self.lengths)
        score = np.empty((n, k))
        start = np.empty((n, k), dtype=np.int64)
        if n and self.step == "itakura":
            K.itakura_rows(cost, self.offsets, self.rows, self.normalize, *self._state, score,
                           start)
        elif n:
            K.subsequence_rows(cost, self.offsets, self.rows, self.diag_weight, self.normalize,
                               *self._state, score, start)
        self.rows += n
        return score, start

    def earliest_start(self) -> int:
        """The earliest stream frame where a match reported by later :meth:`push` calls can
        start (the oldest start held by a reachable trellis cell; ``rows`` when none is)."""
        d, s = self._state[0], self._state[2]
        live = np.isfinite(d)
        return int(s[live].min()) if live.any() else self.rows


def subsequence_dtw(cost: np.ndarray, step: str = "symmetric2",
                    normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Subsequence DTW of one template against one sequence.

    Parameters
    ----------
    cost : array [N, M]
        Local costs: sequence frame ``i`` (rows) against template frame ``j``.
    step, normalize
        As in :class:`SubsequenceMatcher`.

    Returns
    -------
    score : float64 [N]
        Cost of the best match of the whole template ending at each frame.
    start : int64 [N]
        Frame where that match starts.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[1] < 1:
        raise DtwInputError(f"cost must be a 2-D matrix [N, M >= 1], got {list(cost.shape)}")
    score, start = SubsequenceMatcher([cost.shape[1]], step, normalize).push(cost)
    return score[:, 0], start[:, 0]
