r"""Private Numba kernels of the DTW trellis (no validation here: see :mod:`asr.dtw.api`).

Every batched kernel works on one 2-D cost buffer ``C`` and a table of pairs: pair ``p`` is the
block ``C[r0[p] : r0[p] + n[p], c0[p] : c0[p] + m[p]]``. A padded batch ``(P, N, M)`` is the
buffer ``(P * N, M)`` with ``r0 = p N``; the all-pairs grid of :func:`asr.dtw.pairwise_dtw` is
the ``[sum N, sum M]`` matrix of local distances with ``r0, c0`` the sequence offsets. The
gradient buffer ``G`` has the layout of ``C``; a kernel writes every cell of each pair's block
(and nothing else), so pairs never race. Outputs are preallocated by the caller; the only
allocations are scratch trellises, one per chunk of pairs (never per pair).

Scratch trellises are indexed with an offset, cell :math:`(i, j)` at ``[i + 1, j + 2]``, so that
the predecessors of row 0 and column 0 are sentinel cells (:math:`+\infty`, or 0 for the virtual
predecessor of the start cell).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

SYMMETRIC1 = 0
SYMMETRIC2 = 1
ASYMMETRIC = 2
INF = np.inf
CHUNK = 8  # pairs per scratch allocation; small enough to balance threads


@njit(cache=True, nogil=True)
def row_range(i, n, m, band, step):
    """Columns ``lo..hi`` of row ``i`` inside the band (and, for asymmetric, reachable from the
    start and co-reachable to the end: :math:`m-1-2(n-1-i) \\le j \\le 2i`)."""
    lo = 0
    hi = m - 1
    if band >= 0 and n > 1:
        num = i * (m - 1) - band * (n - 1)
        blo = -((-num) // (n - 1))
        bhi = (i * (m - 1) + band * (n - 1)) // (n - 1)
        lo = max(lo, blo)
        hi = min(hi, bhi)
    if step == ASYMMETRIC:
        hi = min(hi, 2 * i)
        lo = max(lo, (m - 1) - 2 * (n - 1 - i))
    return lo, hi


@njit(cache=True, nogil=True)
def feasible_one(n, m, step, band):
    """Whether a path from (0, 0) to (n-1, m-1) exists inside the band (interval propagation)."""
    if step == ASYMMETRIC and m - 1 > 2 * (n - 1):
        return False
    lo, hi = row_range(0, n, m, band, -1)
    a = 0
    b = hi if step != ASYMMETRIC else 0
    for i in range(1, n):
        lo, hi = row_range(i, n, m, band, -1)
        if step == ASYMMETRIC:
            a = max(a, lo)
            b = min(b + 2, hi)
            if a > b:
                return False
        else:
            a = max(a, lo)
            if a > min(b + 1, hi):
                return False
            b = hi
    return a <= m - 1 <= b


@njit(cache=True, parallel=True)
def feasible_pairs(n, m, step, band, out):
    """``out[p] = feasible_one(n[p], m[p], step, band)`` for every pair."""
    for p in prange(n.shape[0]):
        out[p] = feasible_one(n[p], m[p], step, band)


# ----------------------------------------------------------------------------------------------
# hard (min-sum)


@njit(cache=True, nogil=True)
def hard_fill(C, r0, c0, n, m, step, band, D):
    """Fill the accumulated-cost trellis ``D`` of one pair; return :math:`D(n-1, m-1)`."""
    for i in range(n + 2):
        for j in range(m + 4):
            D[i, j] = INF
    if step == ASYMMETRIC:
        D[0, 2] = 0.0
    else:
        D[0, 1] = 0.0
    for i in range(n):
        lo, hi = row_range(i, n, m, band, step)
        Dp = D[i]
        Dc = D[i + 1]
        Cr = C[r0 + i]
        if step == SYMMETRIC1:
            for j in range(lo, hi + 1):
                Dc[j + 2] = Cr[c0 + j] + min(min(Dp[j + 1], Dp[j + 2]), Dc[j + 1])
        elif step == SYMMETRIC2:
            for j in range(lo, hi + 1):
                c = Cr[c0 + j]
                Dc[j + 2] = min(min(Dp[j + 1] + 2.0 * c, Dp[j + 2] + c), Dc[j + 1] + c)
        else:
            for j in range(lo, hi + 1):
                Dc[j + 2] = Cr[c0 + j] + min(min(Dp[j + 1], Dp[j + 2]), Dp[j])
    return D[n, m + 1]


@njit(cache=True, nogil=True)
def hard_backtrack(C, r0, c0, n, m, step, D, path, weights):
    """Trace the best path back from (n-1, m-1) through a filled ``D``; return its length.

    ``path[k]`` is the k-th cell from the end, ``weights[k]`` its step weight (the derivative
    of the energy with respect to that cell's local cost). Ties prefer the diagonal move.
    """
    i = n - 1
    j = m - 1
    k = 0
    while True:
        path[k, 0] = i
        path[k, 1] = j
        if i == 0 and j == 0:
            weights[k] = 2.0 if step == SYMMETRIC2 else 1.0
            return k + 1
        if step == ASYMMETRIC:
            stay = D[i, j + 2]
            diag = D[i, j + 1]
            skip = D[i, j]
            w = 1.0
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
                diag += C[r0 + i, c0 + j]  # compare D_d + 2c with D_u + c and D_l + c
            if diag <= up and diag <= left:
                di = 1
                dj = 1
                w = 2.0 if step == SYMMETRIC2 else 1.0
            elif up <= left:
                di = 1
                dj = 0
                w = 1.0
            else:
                di = 0
                dj = 1
                w = 1.0
        weights[k] = w
        k += 1
        i -= di
        j -= dj


@njit(cache=True, nogil=True)
def hard_path(C, step, band):
    """Best path of one full matrix: ``(cost, path[L, 2])`` from (0, 0) to (N-1, M-1)."""
    n, m = C.shape
    D = np.empty((n + 2, m + 4))
    cost = hard_fill(C, 0, 0, n, m, step, band, D)
    path = np.empty((n + m, 2), dtype=np.int64)
    weights = np.empty(n + m)
    if not cost < INF:
        return cost, path[:0]
    length = hard_backtrack(C, 0, 0, n, m, step, D, path, weights)
    return cost, path[:length][::-1].copy()


@njit(cache=True, parallel=True)
def hard_pairs(C, r0, c0, n, m, step, band, out, G, want_grad):
    """Hard DTW of every pair into ``out``; with ``want_grad`` also the step-weighted path
    indicator into the pair blocks of ``G``."""
    npairs = n.shape[0]
    maxn = n.max()
    maxm = m.max()
    nchunks = (npairs + CHUNK - 1) // CHUNK
    for t in prange(nchunks):
        D = np.empty((maxn + 2, maxm + 4))
        path = np.empty((maxn + maxm, 2), dtype=np.int64)
        weights = np.empty(maxn + maxm)
        for p in range(t * CHUNK, min(npairs, (t + 1) * CHUNK)):
            np_, mp, rp, cp = n[p], m[p], r0[p], c0[p]
            cost = hard_fill(C, rp, cp, np_, mp, step, band, D)
            out[p] = cost
            if want_grad:
                for i in range(np_):
                    for j in range(mp):
                        G[rp + i, cp + j] = 0.0
                if cost < INF:
                    length = hard_backtrack(C, rp, cp, np_, mp, step, D, path, weights)
                    for k in range(length):
                        G[rp + path[k, 0], cp + path[k, 1]] = weights[k]


# ----------------------------------------------------------------------------------------------
# soft (log-sum-exp), stable in log space


@njit(cache=True, nogil=True)
def soft_fill(C, r0, c0, n, m, step, band, gamma, R, W):
    """Fill the soft accumulated-cost trellis ``R`` of one pair in log space; return
    :math:`R(n-1, m-1)`. ``W[k, i, j]`` receives the soft-min weight of predecessor ``k`` of
    cell ``(i, j)`` (the local derivative used by the backward pass)."""
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
        lo, hi = row_range(i, n, m, band, step)
        Rp = R[i]
        Rc = R[i + 1]
        Cr = C[r0 + i]
        for j in range(lo, hi + 1):
            c = Cr[c0 + j]
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
    return R[n, m + 1]


@njit(cache=True, nogil=True)
def soft_backward(C, r0, c0, n, m, step, band, W, E, G):
    r"""Expected occupancy of one pair from the weights of :func:`soft_fill`, into ``G``.

    :math:`E(x) = \partial R(N-1, M-1) / \partial R(x)` gathers from the successors ``s`` of
    ``x``: :math:`E(x) = \sum_s E(s)\, W_s(x)`; then :math:`G(x) = E(x)` (symmetric1,
    asymmetric) or :math:`E(x)\,(1 + W_{\mathrm{diag}}(x))` (symmetric2).
    """
    for i in range(n + 2):
        for j in range(m + 4):
            E[i, j] = 0.0
    for i in range(n):
        for j in range(m):
            G[r0 + i, c0 + j] = 0.0
    E[n, m + 1] = 1.0
    for i in range(n - 1, -1, -1):
        lo, hi = row_range(i, n, m, band, step)
        for j in range(hi, lo - 1, -1):
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
            G[r0 + i, c0 + j] = e


@njit(cache=True, nogil=True)
def soft_one(C, step, band, gamma, G):
    """Soft DTW value of one full matrix, occupancy into ``G`` (same shape as ``C``)."""
    n, m = C.shape
    R = np.empty((n + 2, m + 4))
    W = np.empty((3, n + 2, m + 4))
    E = np.empty((n + 2, m + 4))
    value = soft_fill(C, 0, 0, n, m, step, band, gamma, R, W)
    if value < INF:
        soft_backward(C, 0, 0, n, m, step, band, W, E, G)
    else:
        G[:, :] = 0.0
    return value


@njit(cache=True, parallel=True)
def soft_pairs(C, r0, c0, n, m, step, band, gamma, out, G, want_grad):
    """Soft DTW of every pair into ``out``; with ``want_grad`` the expected occupancy into the
    pair blocks of ``G``."""
    npairs = n.shape[0]
    maxn = n.max()
    maxm = m.max()
    nchunks = (npairs + CHUNK - 1) // CHUNK
    for t in prange(nchunks):
        R = np.empty((maxn + 2, maxm + 4))
        W = np.empty((3, maxn + 2, maxm + 4))
        E = np.empty((maxn + 2, maxm + 4))
        for p in range(t * CHUNK, min(npairs, (t + 1) * CHUNK)):
            np_, mp, rp, cp = n[p], m[p], r0[p], c0[p]
            value = soft_fill(C, rp, cp, np_, mp, step, band, gamma, R, W)
            out[p] = value
            if want_grad:
                if value < INF:
                    soft_backward(C, rp, cp, np_, mp, step, band, W, E, G)
                else:
                    for i in range(np_):
                        for j in range(mp):
                            G[rp + i, cp + j] = 0.0


@njit(cache=True, parallel=True)
def scale_blocks(G, r0, c0, n, m, w, out):
    """``out`` block of pair ``p`` = ``w[p]`` times ``G``'s block (``out`` zeroed elsewhere by
    the caller)."""
    for p in prange(n.shape[0]):
        wp = w[p]
        for i in range(n[p]):
            for j in range(m[p]):
                out[r0[p] + i, c0[p] + j] = G[r0[p] + i, c0[p] + j] * wp
