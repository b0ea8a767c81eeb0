r"""Private parallel drivers: run the one-pair kernels of :mod:`asr.dtw._hard` and
:mod:`asr.dtw._soft` over a table of pairs with ``prange``, plus the gradient scatters.

Every driver reads local costs as ``a[r0+i] + b[c0+j] + s * src[r0+i, c0+j]`` (clamped at 0 if
``clamp``): pair ``p`` is the block at rows ``r0[p]..r0[p]+n[p]`` and columns
``c0[p]..c0[p]+m[p]``. For :func:`asr.dtw.dtw_energy`, ``src`` is the padded batch viewed as
``(P * N, M)`` with ``a = b = 0, s = 1``; for :func:`asr.dtw.pairwise_dtw` it is the matrix of
inner products of all query frames with all template frames (one GEMM), so the squared
distances are never stored. Pairs marked infeasible (``ok[p]`` False) get ``+inf`` and zero
gradient. Outputs are preallocated by the caller; each thread allocates its scratch once per
chunk of pairs (never per pair), and pairs never write to the same cells of ``G``. The drivers
split the pairs into ``nch`` contiguous chunks (a few per thread, for load balance).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from asr.dtw._hard import (
    feasible_one,
    hard_backtrack,
    hard_energy,
    hard_fill,
    load_block,
    row_ranges,
)
from asr.dtw._soft import soft_log, soft_norm

INF = np.inf


@njit(cache=True, parallel=True)
def feasible_pairs(n, m, step, band, out):
    """``out[p] = feasible_one(n[p], m[p], step, band)`` for every pair."""
    for p in prange(n.shape[0]):
        out[p] = feasible_one(n[p], m[p], step, band)


@njit(cache=True, nogil=True)
def _zero_block(G, r0, c0, n, m):
    for i in range(n):
        for j in range(m):
            G[r0 + i, c0 + j] = 0.0


@njit(cache=True, parallel=True)
def hard_energy_pairs(src, a, b, s, clamp, r0, c0, n, m, ok, step, band, out, nch):
    """Hard DTW energies (no gradient): one rolling row per pair, costs computed on the fly."""
    npairs = n.shape[0]
    nch = max(1, min(npairs, nch))
    maxn = n.max()
    maxm = m.max()
    for t in prange(nch):
        row = np.empty(maxm + 4)
        crow = np.empty(maxm + 4)
        lo = np.empty(maxn, dtype=np.int64)
        hi = np.empty(maxn, dtype=np.int64)
        for p in range(t * npairs // nch, (t + 1) * npairs // nch):
            if not ok[p]:
                out[p] = INF
                continue
            row_ranges(n[p], m[p], band, step, lo, hi)
            out[p] = hard_energy(
                src, a, b, s, clamp, r0[p], c0[p], n[p], m[p], step, lo, hi, row, crow
            )


@njit(cache=True, parallel=True)
def hard_path_pairs(src, a, b, s, clamp, r0, c0, n, m, ok, step, band, out, poff, plen, pi, pj,
                    pw, nch):
    """Hard DTW energies and best paths: pair ``p``'s cells and step weights go to
    ``pi, pj, pw[poff[p] : poff[p] + plen[p]]`` (from the end to the start)."""
    npairs = n.shape[0]
    nch = max(1, min(npairs, nch))
    maxn = n.max()
    maxm = m.max()
    for t in prange(nch):
        Cp = np.zeros((maxn + 1, maxm + 4))
        D = np.empty((maxn + 2, maxm + 4))
        lo = np.empty(maxn, dtype=np.int64)
        hi = np.empty(maxn, dtype=np.int64)
        for p in range(t * npairs // nch, (t + 1) * npairs // nch):
            if not ok[p]:
                out[p] = INF
                plen[p] = 0
                continue
            np_, mp = n[p], m[p]
            load_block(src, a, b, s, clamp, r0[p], c0[p], np_, mp, Cp)
            row_ranges(np_, mp, band, step, lo, hi)
            out[p] = hard_fill(Cp, np_, mp, step, lo, hi, D)
            plen[p] = hard_backtrack(Cp, np_, mp, step, D, pi, pj, pw, poff[p])


@njit(cache=True, parallel=True)
def soft_pairs(src, a, b, s, clamp, r0, c0, n, m, ok, step, band, gamma, out, G, want_grad,
               used_log, nch):
    """Soft DTW energies; with ``want_grad`` the occupancy into the pair blocks of ``G``.

    Per pair: the hard prefix trellis, then the normalized probability-domain recursion
    (:func:`asr.dtw._soft.soft_norm`), or the log-domain one where that would overflow
    (``used_log[p] = 1``; only for ``n + m`` beyond about 640).
    """
    npairs = n.shape[0]
    nch = max(1, min(npairs, nch))
    maxn = n.max()
    maxm = m.max()
    for t in prange(nch):
        Cp = np.zeros((maxn + 1, maxm + 4))
        F = np.empty((maxn + 2, maxm + 4))
        W0 = np.zeros((maxn + 2, maxm + 4))
        W1 = np.zeros((maxn + 2, maxm + 4))
        W2 = np.zeros((maxn + 2, maxm + 4))
        Pa = np.empty((maxn + 2, maxm + 4))
        Pb = np.empty((maxn + 2, maxm + 4))
        lo = np.empty(maxn, dtype=np.int64)
        hi = np.empty(maxn, dtype=np.int64)
        R = np.empty((0, 0))
        E = np.empty((0, 0))
        for p in range(t * npairs // nch, (t + 1) * npairs // nch):
            np_, mp, rp, cp = n[p], m[p], r0[p], c0[p]
            if not ok[p]:
                out[p] = INF
                if want_grad:
                    _zero_block(G, rp, cp, np_, mp)
                continue
            load_block(src, a, b, s, clamp, rp, cp, np_, mp, Cp)
            row_ranges(np_, mp, band, step, lo, hi)
            hard_fill(Cp, np_, mp, step, lo, hi, F)
            value, good = soft_norm(Cp, np_, mp, step, lo, hi, gamma, F, W0, W1, W2, Pa, Pb,
                                    want_grad, G, rp, cp)
            if not good:
                used_log[p] = 1
                if R.shape[0] == 0:
                    R = np.empty((maxn + 2, maxm + 4))
                    E = np.empty((maxn + 2, maxm + 4))
                value = soft_log(Cp, np_, mp, step, lo, hi, gamma, R, W0, W1, W2, E, want_grad,
                                 G, rp, cp)
            out[p] = value


@njit(cache=True, parallel=True)
def scale_blocks(G, r0, c0, n, m, w, out):
    """``out``'s block of pair ``p`` = ``w[p]`` times ``G``'s block (other cells untouched)."""
    for p in prange(n.shape[0]):
        wp = w[p]
        for i in range(n[p]):
            for j in range(m[p]):
                out[r0[p] + i, c0[p] + j] = G[r0[p] + i, c0[p] + j] * wp


@njit(cache=True, parallel=True)
def scatter_paths(r0, c0, poff, plen, pi, pj, pw, g, out):
    """Add ``g[p]`` times the step-weighted path indicator of pair ``p`` into ``out``."""
    for p in prange(r0.shape[0]):
        gp = g[p]
        for k in range(poff[p], poff[p] + plen[p]):
            out[r0[p] + pi[k], c0[p] + pj[k]] += pw[k] * gp


@njit(cache=True, parallel=True)
def path_grad_rows(U, V, s, r0, c0, poff, plen, pi, pj, pw, g, A, B, gU, ga):
    r"""Gradient of :math:`\sum_p g_p E_p` w.r.t. the query frames, for local costs
    :math:`a_i + b_j + s\, u_i^\top v_j` and hard paths: :math:`\partial/\partial u_i =
    \sum w\, g_p\, s\, v_j`, :math:`\partial/\partial a_i = \sum w\, g_p` over path cells.
    Parallel over queries (grid pair ``p = q B + t``), so no two threads share a row."""
    D = U.shape[1]
    for q in prange(A):
        for t in range(B):
            p = q * B + t
            gp = g[p]
            if gp == 0.0:
                continue
            for k in range(poff[p], poff[p] + plen[p]):
                i = r0[p] + pi[k]
                j = c0[p] + pj[k]
                w = pw[k] * gp
                ga[i] += w
                ws = w * s
                for d in range(D):
                    gU[i, d] += ws * V[j, d]


@njit(cache=True, parallel=True)
def path_grad_cols(U, V, s, r0, c0, poff, plen, pi, pj, pw, g, A, B, gV, gb):
    """The template-frame counterpart of :func:`path_grad_rows` (parallel over templates)."""
    D = U.shape[1]
    for t in prange(B):
        for q in range(A):
            p = q * B + t
            gp = g[p]
            if gp == 0.0:
                continue
            for k in range(poff[p], poff[p] + plen[p]):
                i = r0[p] + pi[k]
                j = c0[p] + pj[k]
                w = pw[k] * gp
                gb[j] += w
                ws = w * s
                for d in range(D):
                    gV[j, d] += ws * U[i, d]
