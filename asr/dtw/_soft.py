r"""Private Numba kernels of the soft (log-sum-exp) trellis of one pair.

Two formulations of the same recursion (conventions in :mod:`asr.dtw._hard`):

**Probability domain** (fast path). With :math:`k(i,j) = e^{-c(i,j)/\gamma}` and
:math:`\alpha = e^{-R/\gamma}`, symmetric1 reads

.. math::

    \alpha(i,j) = k(i,j)\,\bigl(\alpha(i-1,j-1) + \alpha(i-1,j) + \alpha(i,j-1)\bigr),

(symmetric2 weighs the diagonal term by :math:`k^2`; asymmetric sums
:math:`\alpha(i-1, j-\{0,1,2\})`), and the backward sum over path suffixes is

.. math::

    \beta(i,j) = k(i{+}1,j{+}1)\beta(i{+}1,j{+}1) + k(i{+}1,j)\beta(i{+}1,j)
    + k(i,j{+}1)\beta(i,j{+}1), \qquad \beta(N-1, M-1) = 1,

so :math:`Z = \alpha(N-1,M-1)`, :math:`R = -\gamma \log Z` and the occupancy of a cell is
:math:`\alpha\beta/Z` (symmetric2: the diagonally entered part counts twice). Only
multiply-adds per cell, one ``exp`` per cell for :math:`k`, one ``log`` per row: each row is
rescaled by its largest *relevant* value and the logs of the scales are accumulated.

*Relevance and pruning.* With the hard prefix :math:`D` and cost-to-go :math:`H`
(:mod:`asr.dtw._hard`), :math:`T(x) = D(x) + H(x)` is the least energy of a path through
:math:`x`. At most :math:`3^{N+M}` paths exist, so the cells with
:math:`T(x) > T^* + \gamma((N+M)\ln 3 + 40)` carry together less than :math:`e^{-40} Z`: they
are dropped (outside the per-row hull of the relevant cells) or given zero occupancy (inside
it). The result is exact to double precision, and for small :math:`\gamma` the trellis shrinks
to a narrow corridor around the best path.

*Underflow.* The probability domain is used only if every relevant cell stays a normal float
within :math:`[10^{-280}, 10^{280}]` of its row scale; otherwise (small :math:`\gamma` relative
to the cost spread) the pair falls back to the **log domain**, which is the textbook recursion
:math:`R(x) = c(x) + \min_\gamma(\text{predecessors})` with the soft-min weights stored for
the backward pass (Cuturi & Blondel, 2017), run on the same hull.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from asr.dtw._hard import ASYMMETRIC, SYMMETRIC1, SYMMETRIC2

INF = np.inf
TINY = 1e-280
HUGE = 1e280
LOG3 = math.log(3.0)
_FM = {"contract"}


@njit(cache=True, nogil=True)
def relevance_threshold(tstar, n, m, gamma):
    """Energy above which a cell's paths carry less than :math:`e^{-40}` of the total."""
    return tstar + gamma * ((n + m) * LOG3 + 40.0) + 1e-12 * abs(tstar) + 1e-300


@njit(cache=True, nogil=True)
def hull(F, H, n, lo, hi, thr, hlo, hhi):
    """Monotone per-row column ranges ``hlo..hhi`` covering every cell with
    ``F + H <= thr``; returns False if some row has no such cell (then use the band)."""
    for i in range(n):
        Fr = F[i + 1]
        Hr = H[i + 1]
        a = -1
        b = -1
        for j in range(lo[i], hi[i] + 1):
            if Fr[j + 2] + Hr[j + 2] <= thr:
                if a < 0:
                    a = j
                b = j
        if a < 0:
            return False
        hlo[i] = a
        hhi[i] = b
    for i in range(n - 2, -1, -1):
        hlo[i] = min(hlo[i], hlo[i + 1])
    for i in range(1, n):
        hhi[i] = max(hhi[i], hhi[i - 1])
    return True


@njit(cache=True, nogil=True, fastmath=_FM)
def _scale_row(V, F, H, l, h, thr):
    """Largest relevant value of a trellis row, or -1 if a relevant value is out of range."""
    vmax = 0.0
    vmin = INF
    bad = False
    for j in range(l, h + 1):
        if F[j + 2] + H[j + 2] <= thr:
            v = V[j + 2]
            if not v <= HUGE:
                bad = True
            vmax = max(vmax, v)
            vmin = min(vmin, v)
    if bad or not vmin >= TINY or not vmin >= TINY * vmax:
        return -1.0
    r = 1.0 / vmax
    for j in range(l, h + 1):
        V[j + 2] *= r
    return vmax


@njit(cache=True, nogil=True, fastmath=_FM)
def soft_prob(Cp, n, m, step, hlo, hhi, gamma, F, H, thr, K, Pa, Pb, S, La, Lb,
              want_grad, G, r0, c0):
    """Soft DTW of one pair in the probability domain with row scaling.

    Returns ``(value, ok)``; ``ok`` is False when a relevant cell left the safe range (the
    caller then uses :func:`soft_log`). With ``want_grad``, writes the occupancy into the
    block ``G[r0:r0+n, c0:c0+m]`` (every cell of it).
    """
    inv = 1.0 / gamma
    for j in range(m + 4):
        Pa[0, j] = 0.0
    Pa[0, 2 if step == ASYMMETRIC else 1] = 1.0
    log_scale = 0.0
    prev_hi = -1
    for i in range(n):
        lo_i = hlo[i]
        hi_i = hhi[i]
        Pp = Pa[i]
        Pc = Pa[i + 1]
        Kr = K[i]
        Cr = Cp[i]
        if i > 0:
            for j in range(prev_hi + 1, hi_i + 1):
                Pp[j + 2] = 0.0
        Pc[lo_i] = 0.0
        Pc[lo_i + 1] = 0.0
        for j in range(lo_i, hi_i + 1):
            Kr[j] = min(math.exp(-Cr[j] * inv), HUGE)
        if step == SYMMETRIC1:
            left = 0.0
            for j in range(lo_i, hi_i + 1):
                v = Kr[j] * (Pp[j + 1] + Pp[j + 2] + left)
                Pc[j + 2] = v
                left = v
        elif step == SYMMETRIC2:
            left = 0.0
            for j in range(lo_i, hi_i + 1):
                k = Kr[j]
                v = k * (k * Pp[j + 1] + Pp[j + 2] + left)
                Pc[j + 2] = v
                left = v
        else:
            for j in range(lo_i, hi_i + 1):
                Pc[j + 2] = Kr[j] * (Pp[j + 2] + Pp[j + 1] + Pp[j])
        s = _scale_row(Pc, F[i + 1], H[i + 1], lo_i, hi_i, thr)
        if s < 0:
            return INF, False
        S[i] = s
        log_scale += math.log(s)
        La[i] = log_scale
        prev_hi = hi_i
    log_z = math.log(Pa[n, m + 1]) + La[n - 1]
    value = -gamma * log_z
    if not want_grad:
        return value, True

    for j in range(m + 4):
        Pb[n + 1, j] = 0.0
    log_scale = 0.0
    next_lo = m
    for i in range(n - 1, -1, -1):
        lo_i = hlo[i]
        hi_i = hhi[i]
        Bn = Pb[i + 2]
        Bc = Pb[i + 1]
        Kn = K[i + 1]
        Kr = K[i]
        for j in range(lo_i, min(next_lo, m)):
            Bn[j + 2] = 0.0
        Bc[hi_i + 3] = 0.0
        Bc[hi_i + 4] = 0.0
        if step == ASYMMETRIC:
            for j in range(lo_i, hi_i + 1):
                Bc[j + 2] = Kn[j] * Bn[j + 2] + Kn[j + 1] * Bn[j + 3] + Kn[j + 2] * Bn[j + 4]
            if i == n - 1:
                Bc[m + 1] = 1.0
        else:
            right = 0.0
            start = hi_i
            if i == n - 1:
                Bc[m + 1] = 1.0
                right = 1.0
                start = m - 2
            if step == SYMMETRIC1:
                for j in range(start, lo_i - 1, -1):
                    v = Kn[j + 1] * Bn[j + 3] + Kn[j] * Bn[j + 2] + Kr[j + 1] * right
                    Bc[j + 2] = v
                    right = v
            else:
                for j in range(start, lo_i - 1, -1):
                    kd = Kn[j + 1]
                    v = kd * kd * Bn[j + 3] + Kn[j] * Bn[j + 2] + Kr[j + 1] * right
                    Bc[j + 2] = v
                    right = v
        s = _scale_row(Bc, F[i + 1], H[i + 1], lo_i, hi_i, thr)
        if s < 0:
            return value, False
        log_scale += math.log(s)
        Lb[i] = log_scale
        next_lo = lo_i

    for i in range(n):
        lo_i = hlo[i]
        hi_i = hhi[i]
        f = math.exp(La[i] + Lb[i] - log_z)
        Fr = F[i + 1]
        Hr = H[i + 1]
        Ar = Pa[i + 1]
        Ap = Pa[i]
        Br = Pb[i + 1]
        Kr = K[i]
        Gr = G[r0 + i]
        for j in range(lo_i):
            Gr[c0 + j] = 0.0
        if step == SYMMETRIC2:
            rs = 1.0 / S[i]
            for j in range(lo_i, hi_i + 1):
                k = Kr[j]
                occ = ((Ar[j + 2] + k * k * Ap[j + 1] * rs) * f) * Br[j + 2]
                Gr[c0 + j] = occ if Fr[j + 2] + Hr[j + 2] <= thr else 0.0
        else:
            for j in range(lo_i, hi_i + 1):
                occ = (Ar[j + 2] * f) * Br[j + 2]
                Gr[c0 + j] = occ if Fr[j + 2] + Hr[j + 2] <= thr else 0.0
        for j in range(hi_i + 1, m):
            Gr[c0 + j] = 0.0
    return value, True


@njit(cache=True, nogil=True, fastmath=_FM)
def soft_log(Cp, n, m, step, lo, hi, gamma, R, W, E, want_grad, G, r0, c0):
    r"""Soft DTW of one pair in the log domain (stable for any :math:`\gamma > 0`).

    ``R`` is the soft accumulated cost; ``W[k, x]`` the soft-min weight of predecessor ``k``
    in the recursion of cell ``x``; the backward pass gathers
    :math:`E(y) = \sum_{x} E(x) W_x(y)` over the successors ``x`` of ``y`` and writes the
    occupancy into the block of ``G``.
    """
    for i in range(n + 2):
        for j in range(m + 4):
            R[i, j] = INF
            W[0, i, j] = 0.0
            W[1, i, j] = 0.0
            W[2, i, j] = 0.0
    if step == ASYMMETRIC:
        R[0, 2] = 0.0
    else:
        R[0, 1] = 0.0
    inv = 1.0 / gamma
    for i in range(n):
        Rp = R[i]
        Rc = R[i + 1]
        Cr = Cp[i]
        for j in range(lo[i], hi[i] + 1):
            c = Cr[j]
            if step == SYMMETRIC1:
                a0 = Rp[j + 1]
                a1 = Rp[j + 2]
                a2 = Rc[j + 1]
                base = c
            elif step == SYMMETRIC2:
                a0 = Rp[j + 1] + 2.0 * c
                a1 = Rp[j + 2] + c
                a2 = Rc[j + 1] + c
                base = 0.0
            else:
                a0 = Rp[j + 2]
                a1 = Rp[j + 1]
                a2 = Rp[j]
                base = c
            mn = min(min(a0, a1), a2)
            if mn == INF:
                continue
            e0 = math.exp((mn - a0) * inv)
            e1 = math.exp((mn - a1) * inv)
            e2 = math.exp((mn - a2) * inv)
            s = e0 + e1 + e2
            Rc[j + 2] = base + mn - gamma * math.log(s)
            rs = 1.0 / s
            W[0, i + 1, j + 2] = e0 * rs
            W[1, i + 1, j + 2] = e1 * rs
            W[2, i + 1, j + 2] = e2 * rs
    value = R[n, m + 1]
    if not want_grad:
        return value

    for i in range(n + 2):
        for j in range(m + 4):
            E[i, j] = 0.0
    for i in range(n - 1, -1, -1):
        Gr = G[r0 + i]
        for j in range(m):
            Gr[c0 + j] = 0.0
        for j in range(hi[i], lo[i] - 1, -1):
            if i == n - 1 and j == m - 1:
                e = 1.0
            elif step == ASYMMETRIC:
                e = (
                    E[i + 2, j + 2] * W[0, i + 2, j + 2]
                    + E[i + 2, j + 3] * W[1, i + 2, j + 3]
                    + E[i + 2, j + 4] * W[2, i + 2, j + 4]
                )
            else:
                e = (
                    E[i + 2, j + 3] * W[0, i + 2, j + 3]
                    + E[i + 2, j + 2] * W[1, i + 2, j + 2]
                    + E[i + 1, j + 3] * W[2, i + 1, j + 3]
                )
            E[i + 1, j + 2] = e
            if step == SYMMETRIC2:
                e *= 1.0 + W[0, i + 1, j + 2]
            Gr[c0 + j] = e
    return value
