r"""Private Numba kernels of the hard (min-sum) trellis of one pair.

Conventions shared by :mod:`asr.dtw._hard` and :mod:`asr.dtw._soft`:

- ``Cp`` is the pair's local-cost block in float64, ``Cp[i, j]`` for ``i < n, j < m``; the
  scratch has spare rows and columns that hold finite garbage (never NaN/inf), so that reads
  just past the block are harmless when multiplied by zero or added to ``inf``.
- ``lo[i]..hi[i]`` are the columns of row ``i`` that the recursion visits (band, reachability,
  or the soft hull); both are non-decreasing in ``i``.
- Full trellises are indexed with an offset, cell :math:`(i, j)` at ``[i + 1, j + 2]``, so
  the predecessors of row 0 and column 0 exist. Instead of clearing a whole trellis per pair,
  each row writes the neutral value (``inf`` here) into the cells just outside its range that
  the next row (or the previous one, going backwards) will read.
"""

from __future__ import annotations

import numpy as np
from numba import njit

SYMMETRIC1 = 0
SYMMETRIC2 = 1
ASYMMETRIC = 2
INF = np.inf
_FM = {"contract"}  # FMA contraction only: inf arithmetic must stay exact


@njit(cache=True, nogil=True)
def row_range(i, n, m, band, step):
    r"""Columns ``lo..hi`` of row ``i`` inside the band; for asymmetric, also reachable from the
    start and co-reachable to the end: :math:`m-1-2(n-1-i) \le j \le 2i`."""
    lo = 0
    hi = m - 1
    if band >= 0 and n > 1:
        num = i * (m - 1) - band * (n - 1)
        lo = max(lo, -((-num) // (n - 1)))
        hi = min(hi, (i * (m - 1) + band * (n - 1)) // (n - 1))
    if step == ASYMMETRIC:
        hi = min(hi, 2 * i)
        lo = max(lo, (m - 1) - 2 * (n - 1 - i))
    return lo, hi


@njit(cache=True, nogil=True)
def row_ranges(n, m, band, step, lo, hi):
    """Fill ``lo[:n], hi[:n]`` with :func:`row_range`."""
    for i in range(n):
        lo[i], hi[i] = row_range(i, n, m, band, step)


@njit(cache=True, nogil=True)
def feasible_one(n, m, step, band):
    """Whether a path from (0, 0) to (n-1, m-1) exists inside the band (interval propagation)."""
    if step == ASYMMETRIC and m - 1 > 2 * (n - 1):
        return False
    a = 0
    b = row_range(0, n, m, band, -1)[1] if step != ASYMMETRIC else 0
    for i in range(1, n):
        lo, hi = row_range(i, n, m, band, -1)
        a = max(a, lo)
        if step == ASYMMETRIC:
            b = min(b + 2, hi)
            if a > b:
                return False
        else:
            if a > min(b + 1, hi):
                return False
            b = hi
    return a <= m - 1 <= b


@njit(cache=True, nogil=True, fastmath=_FM)
def load_block(src, a, b, s, clamp, r0, c0, n, m, Cp):
    r"""``Cp[i, j] = a[r0+i] + b[c0+j] + s src[r0+i, c0+j]``, clamped at 0 if ``clamp``.

    With ``src`` the inner products :math:`x_i^\top y_j`, ``a`` and ``b`` the squared norms and
    ``s = -2`` this is the squared Euclidean distance; with ``a = b = 0, s = 1`` a plain copy.
    """
    for i in range(n):
        ai = a[r0 + i]
        row = src[r0 + i]
        out = Cp[i]
        if clamp:
            for j in range(m):
                out[j] = max(ai + b[c0 + j] + s * row[c0 + j], 0.0)
        else:
            for j in range(m):
                out[j] = ai + b[c0 + j] + s * row[c0 + j]


@njit(cache=True, nogil=True, fastmath=_FM)
def hard_energy(src, a, b, s, clamp, r0, c0, n, m, step, lo, hi, row, crow):
    """Hard DTW value of one pair with one rolling row and local costs computed on the fly.

    ``row[j + 2]`` holds :math:`D(i-1, j)` before row ``i`` overwrites it with
    :math:`D(i, j)`; the diagonal predecessor is carried in a register (symmetric patterns,
    left to right) or still unread (asymmetric, right to left).
    """
    for j in range(m + 4):
        row[j] = INF
    for i in range(n):
        lo_i = lo[i]
        hi_i = hi[i]
        ai = a[r0 + i]
        src_row = src[r0 + i]
        if clamp:
            for j in range(lo_i, hi_i + 1):
                crow[j] = max(ai + b[c0 + j] + s * src_row[c0 + j], 0.0)
        else:
            for j in range(lo_i, hi_i + 1):
                crow[j] = ai + b[c0 + j] + s * src_row[c0 + j]
        if step == ASYMMETRIC:
            if i == 0:
                row[2] = crow[0]
            else:
                for j in range(hi_i, lo_i - 1, -1):
                    row[j + 2] = crow[j] + min(min(row[j + 1], row[j + 2]), row[j])
        else:
            diag = 0.0 if i == 0 else row[lo_i + 1]
            left = INF
            if step == SYMMETRIC1:
                for j in range(lo_i, hi_i + 1):
                    up = row[j + 2]
                    v = crow[j] + min(min(diag, up), left)
                    diag = up
                    row[j + 2] = v
                    left = v
            else:
                for j in range(lo_i, hi_i + 1):
                    c = crow[j]
                    up = row[j + 2]
                    v = min(min(diag + 2.0 * c, up + c), left + c)
                    diag = up
                    row[j + 2] = v
                    left = v
        if i > 0:
            for j in range(lo[i - 1], lo_i):
                row[j + 2] = INF
    return row[m + 1]


@njit(cache=True, nogil=True, fastmath=_FM)
def hard_fill(Cp, n, m, step, lo, hi, D):
    """Fill the prefix trellis :math:`F = D` of one pair; return :math:`D(n-1, m-1)`."""
    for j in range(m + 4):
        D[0, j] = INF
    if step == ASYMMETRIC:
        D[0, 2] = 0.0
    else:
        D[0, 1] = 0.0
    prev_hi = -1
    for i in range(n):
        lo_i = lo[i]
        hi_i = hi[i]
        Dp = D[i]
        Dc = D[i + 1]
        Cr = Cp[i]
        if i > 0:
            for j in range(prev_hi + 1, hi_i + 1):
                Dp[j + 2] = INF
        Dc[lo_i] = INF
        Dc[lo_i + 1] = INF
        if step == SYMMETRIC1:
            left = INF
            for j in range(lo_i, hi_i + 1):
                v = Cr[j] + min(min(Dp[j + 1], Dp[j + 2]), left)
                Dc[j + 2] = v
                left = v
        elif step == SYMMETRIC2:
            left = INF
            for j in range(lo_i, hi_i + 1):
                c = Cr[j]
                v = min(min(Dp[j + 1] + 2.0 * c, Dp[j + 2] + c), left + c)
                Dc[j + 2] = v
                left = v
        else:
            for j in range(lo_i, hi_i + 1):
                Dc[j + 2] = Cr[j] + min(min(Dp[j + 1], Dp[j + 2]), Dp[j])
        prev_hi = hi_i
    return D[n, m + 1]


@njit(cache=True, nogil=True)
def hard_backtrack(Cp, n, m, step, D, pi, pj, pw, off):
    """Trace the best path back from (n-1, m-1) through a filled ``D``.

    Writes its cells (from the end) to ``pi, pj`` and their step weights (the derivative of
    the energy with respect to the cell's cost) to ``pw``, starting at ``off``; returns the
    path length. Ties prefer the diagonal move.
    """
    i = n - 1
    j = m - 1
    k = off
    while True:
        pi[k] = i
        pj[k] = j
        if i == 0 and j == 0:
            pw[k] = 2.0 if step == SYMMETRIC2 else 1.0
            return k + 1 - off
        w = 1.0
        if step == ASYMMETRIC:
            stay = D[i, j + 2]
            diag = D[i, j + 1]
            skip = D[i, j]
            di = 1
            if diag <= stay and diag <= skip:
                dj = 1
            elif stay <= skip:
                dj = 0
            else:
                dj = 2
        else:
            diag = D[i, j + 1]
            up = D[i, j + 2]
            left = D[i + 1, j + 1]
            if step == SYMMETRIC2:
                diag += Cp[i, j]  # compare D_d + 2c with D_u + c and D_l + c
            if diag <= up and diag <= left:
                di = 1
                dj = 1
                if step == SYMMETRIC2:
                    w = 2.0
            elif up <= left:
                di = 1
                dj = 0
            else:
                di = 0
                dj = 1
        pw[k] = w
        k += 1
        i -= di
        j -= dj
