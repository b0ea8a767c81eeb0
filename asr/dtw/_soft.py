r"""Private Numba kernels of the soft (log-sum-exp) trellis of one pair.

Two formulations of the same recursion (conventions in :mod:`asr.dtw._hard`):

**Normalized probability domain** (fast path). Write :math:`\alpha(x) = e^{-R(x)/\gamma}` for
the sum over path prefixes ending in cell :math:`x`, and normalize it by the hard prefix
energy :math:`D(x)`: :math:`\hat\alpha(x) = \alpha(x)\, e^{D(x)/\gamma}`. For symmetric1,
:math:`R(x) = c(x) + \min_\gamma\{R(p) : p \in \mathrm{pred}(x)\}` becomes

.. math::

    \hat\alpha(x) = \sum_{p \in \mathrm{pred}(x)} w_{px}\, \hat\alpha(p), \qquad
    w_{px} = \exp\Bigl(-\frac{D(p) + c(x) - D(x)}{\gamma}\Bigr) \in [0, 1],

(symmetric2 charges :math:`2c(x)` on the diagonal edge) with :math:`\hat\alpha(0,0) = 1`, and
:math:`R(N-1, M-1) = D(N-1, M-1) - \gamma \log \hat\alpha(N-1, M-1)`. The edge weights depend
only on the hard trellis, so they are computed row by row in vectorized loops (a SIMD
``exp``), and the recursion itself is one fused multiply-add chain. Because the best
predecessor has weight 1, :math:`1 \le \hat\alpha(x) \le 3^{i+j}`: no underflow whatever
:math:`\gamma` and the costs are, and no overflow below :math:`N + M \approx 640`.

The backward pass (Cuturi & Blondel, 2017) propagates :math:`E(x) = \partial R(N-1,M-1) /
\partial R(x)` through the soft-min weights :math:`\pi_x(p) = w_{px} \hat\alpha(p) /
\hat\alpha(x)`; with :math:`\hat E = E / \hat\alpha` it is again a pure multiply-add recursion
over the same weights,

.. math::

    \hat E(p) = \sum_{x \in \mathrm{succ}(p)} w_{px}\, \hat E(x), \qquad
    \hat E(N-1, M-1) = 1 / \hat\alpha(N-1, M-1),

and the occupancy is :math:`\hat E(x)\hat\alpha(x)` (symmetric2: plus the diagonally entered
part :math:`\hat E(x) w_{dx} \hat\alpha(d)` once more, as that step weighs 2).

**Log domain** (fallback where :math:`\hat\alpha` would overflow): the textbook recursion
with the soft-min weights stored for the backward pass.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from asr.dtw._hard import ASYMMETRIC, SYMMETRIC1, SYMMETRIC2

INF = np.inf
FLUSH = 1e-290  # backward values below this are set to 0 (see soft_norm)
_FM = {"contract"}
_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125  # ln 2 split so that k * _LN2_HI is exact
_LN2_LO = 1.42860682030941723212e-6


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (a free bitcast; vectorizes)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@njit(cache=True, nogil=True, inline="always", fastmath=_FM)
def exp_neg(x):
    r""":math:`e^x` for :math:`x \le 1` to 1 ulp, 0 below :math:`-708` (and for NaN).

    Range reduction :math:`x = k \ln 2 + r`, :math:`|r| \le \ln 2 / 2`, a degree-13 Taylor
    polynomial for :math:`e^r` and :math:`2^k` built in the exponent bits; no library call,
    so loops over it vectorize (numba has no SIMD ``exp`` without Intel SVML).
    """
    y = min(max(x, -708.0), 1.0)
    kf = math.floor(y * _LOG2E + 0.5)
    r = (y - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _bits_to_float((np.int64(kf) + 1023) << 52)
    return p * scale if x > -708.0 else 0.0


@njit(cache=True, nogil=True, fastmath=_FM)
def _weights_row(fx, c, dw, f0, f1, f2, inv, w0, w1, w2):
    """Edge weights of one row segment: ``w_k = exp((fx - c - [k == 0] (dw - 1) c - f_k) / gamma)``
    with ``fx`` the hard prefix of the cells and ``f_k`` that of their k-th predecessors."""
    for k in range(fx.shape[0]):
        base = fx[k] - c[k]
        w0[k] = exp_neg((base - (dw - 1.0) * c[k] - f0[k]) * inv)
        w1[k] = exp_neg((base - f1[k]) * inv)
        w2[k] = exp_neg((base - f2[k]) * inv)


@njit(cache=True, nogil=True, fastmath=_FM)
def _dot3_row(w0, w1, w2, p0, p1, p2, out, flush):
    """``out = w0 p0 + w1 p1 + w2 p2`` elementwise (rows without a horizontal move), values
    not above ``flush`` set to 0."""
    for k in range(out.shape[0]):
        v = w0[k] * p0[k] + w1[k] * p1[k] + w2[k] * p2[k]
        out[k] = v if v > flush else 0.0


@njit(cache=True, nogil=True, fastmath=_FM)
def _occupancy_row(e, a, w0, ap, twice, out):
    """``out = e a`` (plus ``e w0 ap``, the diagonally entered part, when ``twice``)."""
    if twice:
        for k in range(out.shape[0]):
            out[k] = e[k] * (a[k] + w0[k] * ap[k])
    else:
        for k in range(out.shape[0]):
            out[k] = e[k] * a[k]


@njit(cache=True, nogil=True, fastmath=_FM)
def soft_norm(Cp, n, m, step, lo, hi, gamma, F, W0, W1, W2, Pa, Pb, want_grad, G, r0, c0):
    r"""Soft DTW of one pair in the normalized probability domain (see the module docstring).

    ``F`` is the filled hard prefix trellis; ``W0, W1, W2`` (finite contents) receive the edge
    weights from the three predecessors; ``Pa``, ``Pb`` hold :math:`\hat\alpha` and
    :math:`\hat E`. Returns ``(value, ok)``, ``ok`` False on overflow (then use
    :func:`soft_log`). With ``want_grad``, writes the occupancy into every cell of the block
    ``G[r0:r0+n, c0:c0+m]``.
    """
    inv = 1.0 / gamma
    asym = step == ASYMMETRIC
    dw = 2.0 if step == SYMMETRIC2 else 1.0
    for j in range(m + 4):
        Pa[0, j] = 0.0
    Pa[0, 2 if asym else 1] = 1.0
    prev_hi = -1
    for i in range(n):
        lo_i = lo[i]
        hi_i = hi[i]
        a, b = lo_i + 2, hi_i + 3  # trellis columns of the row segment
        Pp = Pa[i]
        Pc = Pa[i + 1]
        Fp = F[i]
        Fc = F[i + 1]
        X0 = W0[i + 1]
        X1 = W1[i + 1]
        X2 = W2[i + 1]
        if i > 0:
            Pp[prev_hi + 3 : b] = 0.0
        Pc[lo_i] = 0.0
        Pc[lo_i + 1] = 0.0
        c = Cp[i, lo_i : hi_i + 1]
        if asym:
            _weights_row(Fc[a:b], c, 1.0, Fp[a:b], Fp[a - 1 : b - 1], Fp[a - 2 : b - 2], inv,
                         X0[a:b], X1[a:b], X2[a:b])
            _dot3_row(X0[a:b], X1[a:b], X2[a:b], Pp[a:b], Pp[a - 1 : b - 1], Pp[a - 2 : b - 2],
                      Pc[a:b], 0.0)
        else:
            _weights_row(Fc[a:b], c, dw, Fp[a - 1 : b - 1], Fp[a:b], Fc[a - 1 : b - 1], inv,
                         X0[a:b], X1[a:b], X2[a:b])
            left = 0.0
            for j in range(a, b):
                left = X0[j] * Pp[j - 1] + X1[j] * Pp[j] + X2[j] * left
                Pc[j] = left
        prev_hi = hi_i
    a_end = Pa[n, m + 1]
    if not (a_end > 0.0 and a_end < INF):
        return INF, False
    value = F[n, m + 1] - gamma * math.log(a_end)
    if not want_grad:
        return value, True

    for j in range(m + 4):
        Pb[n + 1, j] = 0.0
    next_lo = m
    for i in range(n - 1, -1, -1):
        lo_i = lo[i]
        hi_i = hi[i]
        a, b = lo_i + 2, hi_i + 3
        En = Pb[i + 2]
        Ec = Pb[i + 1]
        if next_lo > lo_i:
            En[a : min(next_lo, m) + 2] = 0.0
        Ec[hi_i + 3] = 0.0
        Ec[hi_i + 4] = 0.0
        if asym:
            _dot3_row(W0[i + 2, a:b], W1[i + 2, a + 1 : b + 1], W2[i + 2, a + 2 : b + 2],
                      En[a:b], En[a + 1 : b + 1], En[a + 2 : b + 2], Ec[a:b], FLUSH)
            if i == n - 1:
                Ec[m + 1] = 1.0 / a_end
        else:
            Y0 = W0[i + 2]
            Y1 = W1[i + 2]
            X2 = W2[i + 1]
            right = 0.0
            if i == n - 1:
                right = 1.0 / a_end
                Ec[m + 1] = right
                b -= 1
            for j in range(b - 1, a - 1, -1):
                v = Y0[j + 1] * En[j + 1] + Y1[j] * En[j] + X2[j + 1] * right
                right = v if v > FLUSH else 0.0  # no subnormals: they cost ~100 cycles each
                Ec[j] = right
        next_lo = lo_i

    for i in range(n):
        lo_i = lo[i]
        hi_i = hi[i]
        Gr = G[r0 + i]
        Gr[c0 : c0 + lo_i] = 0.0
        _occupancy_row(Pb[i + 1, lo_i + 2 : hi_i + 3], Pa[i + 1, lo_i + 2 : hi_i + 3],
                       W0[i + 1, lo_i + 2 : hi_i + 3], Pa[i, lo_i + 1 : hi_i + 2],
                       step == SYMMETRIC2, Gr[c0 + lo_i : c0 + hi_i + 1])
        Gr[c0 + hi_i + 1 : c0 + m] = 0.0
    return value, True


@njit(cache=True, nogil=True, fastmath=_FM)
def soft_log(Cp, n, m, step, lo, hi, gamma, R, W0, W1, W2, E, want_grad, G, r0, c0):
    r"""Soft DTW of one pair in the log domain (stable for any :math:`\gamma > 0`).

    ``R`` is the soft accumulated cost; ``Wk[x]`` the soft-min weight of predecessor ``k``
    in the recursion of cell ``x``; the backward pass gathers
    :math:`E(y) = \sum_{x} E(x) W_x(y)` over the successors ``x`` of ``y`` and writes the
    occupancy into the block of ``G``.
    """
    for i in range(n + 2):
        for j in range(m + 4):
            R[i, j] = INF
            W0[i, j] = 0.0
            W1[i, j] = 0.0
            W2[i, j] = 0.0
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
            W0[i + 1, j + 2] = e0 * rs
            W1[i + 1, j + 2] = e1 * rs
            W2[i + 1, j + 2] = e2 * rs
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
                    E[i + 2, j + 2] * W0[i + 2, j + 2]
                    + E[i + 2, j + 3] * W1[i + 2, j + 3]
                    + E[i + 2, j + 4] * W2[i + 2, j + 4]
                )
            else:
                e = (
                    E[i + 2, j + 3] * W0[i + 2, j + 3]
                    + E[i + 2, j + 2] * W1[i + 2, j + 2]
                    + E[i + 1, j + 3] * W2[i + 1, j + 3]
                )
            E[i + 1, j + 2] = e
            if step == SYMMETRIC2:
                e *= 1.0 + W0[i + 1, j + 2]
            Gr[c0 + j] = e
    return value
