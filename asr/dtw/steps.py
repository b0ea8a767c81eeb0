r"""Step patterns, path weights and the Sakoe-Chiba band, shared by the kernels and the wrappers.

A *warping path* between an utterance of ``N`` frames and a template of ``M`` frames is a
monotone chain of cells from :math:`(0, 0)` to :math:`(N-1, M-1)`. The step pattern says which
moves are allowed and how much each visited cell weighs:

``"symmetric1"``
    moves :math:`(1,1), (1,0), (0,1)`, every cell weighs 1 (librosa's and dtaidistance's default).
    Path weights vary between :math:`\max(N, M)` and :math:`N + M - 1`.
``"symmetric2"``
    the same moves, but a cell entered diagonally (and the start cell) weighs 2: Sakoe & Chiba's
    symmetric form. Every path has weight exactly :math:`N + M`.
``"asymmetric"``
    the template as a left-to-right state sequence with skips: utterance frame ``i`` is matched
    to exactly one template frame :math:`z(i)`, with :math:`z(0) = 0`, :math:`z(N-1) = M-1` and
    :math:`z(i+1) - z(i) \in \{0, 1, 2\}`. Every path has exactly ``N`` cells of weight 1, and a
    path exists only if :math:`M - 1 \le 2 (N - 1)`.

The band of radius ``r`` follows the straight line from :math:`(0, 0)` to :math:`(N-1, M-1)`:
cell :math:`(i, j)` is inside when

.. math::

    \left| j - i \frac{M-1}{N-1} \right| \le r
    \quad\Longleftrightarrow\quad
    |j (N-1) - i (M-1)| \le r (N-1),

(for :math:`N = 1` the whole single row is inside), tested in exact integer arithmetic. With
``N == M`` it is the classic :math:`|i - j| \le r`.
"""

from __future__ import annotations

import numpy as np

from asr.errors import AsrError

STEP_PATTERNS: tuple[str, ...] = ("symmetric1", "symmetric2", "asymmetric")
"""The step pattern names accepted by every function of :mod:`asr.dtw`."""


class DtwInputError(AsrError, ValueError):
    """A DTW argument breaks a rule (shape, dtype, NaN, length, gamma, step, band).

    It is a :class:`ValueError` (as the DTW contract promises) and an
    :class:`~asr.errors.AsrError` (so the CLI prints it as one line).
    """


def step_code(step: str) -> int:
    """Return the kernel code of a step pattern name (its index in :data:`STEP_PATTERNS`).

    Raises
    ------
    DtwInputError
        If ``step`` is not one of :data:`STEP_PATTERNS`.
    """
    if not isinstance(step, str) or step not in STEP_PATTERNS:
        raise DtwInputError(
            f"step={step!r}: unknown step pattern (expected one of {STEP_PATTERNS})"
        )
    return STEP_PATTERNS.index(step)


# local distances the DTW kernels compute (asr.dtw.api._cost_factors); the one list of choices,
# checked by the model config as well as by pairwise_dtw
METRICS = ("sqeuclidean", "cosine")


def check_metric(metric) -> str:
    """Return ``metric`` after checking it is one of :data:`METRICS`."""
    if metric not in METRICS:
        raise DtwInputError(f"metric={metric!r}: unknown metric (expected one of "
                            f"{', '.join(METRICS)})")
    return metric


def check_gamma(gamma) -> float:
    """Return ``gamma`` as a float after checking it is finite and non-negative."""
    try:
        value = float(gamma)
    except (TypeError, ValueError):
        raise DtwInputError(f"gamma={gamma!r}: must be a non-negative number") from None
    if not np.isfinite(value) or value < 0:
        raise DtwInputError(f"gamma={gamma!r}: must be a finite number >= 0")
    return value


def check_band(band) -> int:
    """Return the band radius as an int, ``-1`` meaning no band.

    Raises
    ------
    DtwInputError
        If ``band`` is neither ``None`` nor a non-negative integer.
    """
    if band is None:
        return -1
    if isinstance(band, bool) or not isinstance(band, int | np.integer) or band < 0:
        raise DtwInputError(f"band={band!r}: must be None or an integer radius >= 0 (frames)")
    return int(band)


def path_weight(step: str, n, m):
    r"""Normalizer of the DTW energy for :math:`N \times M` matrices (arrays broadcast).

    ``"symmetric2"``: :math:`N + M` (the exact weight of every path). ``"asymmetric"``:
    :math:`N` (every path has ``N`` cells). ``"symmetric1"``: :math:`N + M`, an approximation:
    its paths weigh between :math:`\max(N, M)` and :math:`N + M - 1`, so the normalized value
    is a lower bound of the mean cost per visited cell (the convention of Sakoe & Chiba's
    normalized form).

    Examples
    --------
    >>> path_weight("asymmetric", 7, 5), path_weight("symmetric2", 7, 5)
    (7, 12)
    """
    step_code(step)
    return n if step == "asymmetric" else n + m


def band_mask(n: int, m: int, band: int | None) -> np.ndarray:
    """Boolean ``(n, m)`` mask of the cells inside the band (all ``True`` for ``band=None``).

    Examples
    --------
    >>> band_mask(3, 5, 1).astype(int)
    array([[1, 1, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 1, 1]])
    """
    radius = check_band(band)
    if radius < 0 or n == 1:
        return np.ones((n, m), dtype=bool)
    i = np.arange(n)[:, None]
    j = np.arange(m)[None, :]
    return np.abs(j * (n - 1) - i * (m - 1)) <= radius * (n - 1)


def pattern_feasible(step: str, n, m) -> np.ndarray:
    r"""Whether a path exists without a band: always, except ``"asymmetric"`` with
    :math:`M - 1 > 2 (N - 1)` (a template more than about twice as long as the utterance)."""
    n = np.asarray(n)
    m = np.asarray(m)
    if step_code(step) == 2:
        return m - 1 <= 2 * (n - 1)
    return np.ones(np.broadcast(n, m).shape, dtype=bool)
