r"""Private Numba kernels of the DTW trellis (no validation here: see :mod:`asr.dtw.api`).

One module on purpose: Numba's on-disk cache (``cache=True``) re-compiles a function when its
own source file changes, not when a function it calls in another file does, so kernels that
call each other live together.

**Layout.** The batched driver :func:`run_pairs` reads local costs as
``a[r0+i] + b[c0+j] + s * src[r0+i, c0+j]`` (clamped at 0 if ``clamp``): pair ``p`` is the
block at rows ``r0[p]..r0[p]+n[p]`` and columns ``c0[p]..c0[p]+m[p]``. For
:func:`asr.dtw.dtw_energy`, ``src`` is the padded batch viewed as ``(P * N, M)`` with
``a = b = 0, s = 1``; for :func:`asr.dtw.pairwise_dtw` it is a block of the inner products of
query frames with all template frames (BLAS), so the squared distances are never stored.
Pairs marked infeasible (``ok[p]`` False) get ``+inf`` and zero gradient. Outputs are
preallocated by the caller; each thread allocates its scratch once per chunk of pairs (never
per pair), and pairs never write to the same output cells. The gradient scatters (last
section) are serial over a range and release the GIL; the API runs them on a few threads.

**One pair.** ``Cp`` is the pair's local-cost block in float64, ``Cp[i, j]`` for ``i < n,
j < m``; the scratch has spare rows and columns holding finite values, so reads just past the
block are harmless when added to ``inf`` or multiplied by 0. ``lo[i]..hi[i]`` are the columns
row ``i`` visits (band, reachability, or the soft hull); both are non-decreasing in ``i``.
Trellises are indexed with an offset, cell :math:`(i, j)` at ``[i + 1, j + 2]``, so that the
predecessors of row 0 and column 0 exist; instead of clearing a trellis per pair, each row
writes the neutral value (``inf``, or 0 in the probability domain) into the cells just outside
its range that the next row will read. Row-segment loops live in small helpers taking 1-D
slices: that is the form LLVM vectorizes.

**Hard** (min-sum): :func:`hard_fill` (prefix energies :math:`D`), :func:`hard_fill_back`
(cost-to-go :math:`H`), :func:`hard_backtrack`. Without a band, symmetric rows are processed
four at a time, skewed by one column, so that four dependency chains run interleaved.

**Soft**, normalized probability domain (fast path). Write :math:`\alpha(x) = e^{-R(x)/\gamma}`
for the sum over path prefixes ending in cell :math:`x`, and normalize it by the hard prefix
energy: :math:`\hat\alpha(x) = \alpha(x)\, e^{D(x)/\gamma}`. For symmetric1,
:math:`R(x) = c(x) + \min_\gamma\{R(p) : p \in \mathrm{pred}(x)\}` becomes

.. math::

    \hat\alpha(x) = \sum_{p \in \mathrm{pred}(x)} w_{px}\, \hat\alpha(p), \qquad
    w_{px} = \exp\Bigl(-\frac{D(p) + c(x) - D(x)}{\gamma}\Bigr) \in [0, 1],

(symmetric2 charges :math:`2c(x)` on the diagonal edge) with :math:`\hat\alpha(0,0) = 1`, and
:math:`R(N-1, M-1) = D(N-1, M-1) - \gamma \log \hat\alpha(N-1, M-1)`. The edge weights depend
only on the hard trellis, so they are computed row by row in vectorized loops (a SIMD
``exp``), and the recursion itself is a chain of multiply-adds. Because the best predecessor
has weight 1, :math:`1 \le \hat\alpha(x) \le 3^{i+j}`: no underflow whatever :math:`\gamma` and
the cost spread, and no overflow for :math:`N + M \le 500` (longer pairs use the log domain).

The backward pass (Cuturi & Blondel, 2017) propagates :math:`E(x) = \partial R(N-1,M-1) /
\partial R(x)` through the soft-min weights :math:`\pi_x(p) = w_{px} \hat\alpha(p) /
\hat\alpha(x)`; with :math:`\hat E = E / \hat\alpha` it is again a pure multiply-add recursion
over the same weights,

.. math::

    \hat E(p) = \sum_{x \in \mathrm{succ}(p)} w_{px}\, \hat E(x), \qquad
    \hat E(N-1, M-1) = 1 / \hat\alpha(N-1, M-1),

and the occupancy is :math:`\hat E(x)\hat\alpha(x)` (symmetric2: plus the diagonally entered
part :math:`\hat E(x) w_{dx} \hat\alpha(d)` once more, as that step weighs 2). Values of
:math:`\hat E` below ``FLUSH`` (1e-290) are set to 0, which avoids slow subnormal arithmetic
and changes an occupancy by less than :math:`10^{-290}\, 3^{N+M} < 10^{-50}`.

*Pruning.* :math:`D(x) + H(x)` is the least energy of a path through :math:`x`. At most
:math:`3^{N+M}` paths exist, so the cells with :math:`D + H > D^* + \gamma((N+M)\ln 3 + 40)`
carry together less than :math:`e^{-40} Z`; each row is restricted to the (monotone) hull of
the other cells. The result is exact to double precision, and for small :math:`\gamma` the
trellis shrinks to a corridor around the best path.

**Soft, log domain** (fallback for long pairs): the textbook recursion
:math:`R(x) = c(x) + \min_\gamma(\dots)` with the soft-min weights stored for the backward pass.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

SYMMETRIC1 = 0
SYMMETRIC2 = 1
ASYMMETRIC = 2
INF = np.inf
LOG3 = math.log(3.0)
FLUSH = 1e-290  # backward values below this are set to 0 (see the module docstring)
_FM = {"contract"}  # FMA contraction only: inf arithmetic must stay exact
_LOG2E = 1.4426950408889634
_LN2_HI = 0.693145751953125  # ln 2 split so that k * _LN2_HI is exact
_LN2_LO = 1.42860682030941723212e-6


# ----------------------------------------------------------------------------------------------
# hard trellis of one pair


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


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Hint the CPU to fetch ``arr[idx]`` into the cache (``llvm.prefetch``; no effect on
    results). Pair blocks are rows of a wide matrix, which hardware prefetchers do not guess."""

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(
            context, builder, aryty, ary, [args[1]], wraparound=False, boundscheck=False
        )
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(
            fn,
            [
                builder.bitcast(ptr, i8p),
                ir.Constant(i32, 0),
                ir.Constant(i32, 3),
                ir.Constant(i32, 1),
            ],
        )
        return context.get_dummy_value()

    return types.none(arr, types.intp), codegen


@njit(cache=True, nogil=True, fastmath=_FM)
def _cost_row(ai, b, s, src, clamp, out):
    if clamp:
        for k in range(out.shape[0]):
            out[k] = max(ai + b[k] + s * src[k], 0.0)
    else:
        for k in range(out.shape[0]):
            out[k] = ai + b[k] + s * src[k]


@njit(cache=True, nogil=True)
def load_block(src, a, b, s, clamp, r0, c0, n, m, Cp):
    r"""``Cp[i, j] = a[r0+i] + b[c0+j] + s src[r0+i, c0+j]``, clamped at 0 if ``clamp``.

    With ``src`` the inner products :math:`x_i^\top y_j`, ``a`` and ``b`` the squared norms and
    ``s = -2`` this is the squared Euclidean distance; with ``a = b = 0, s = 1`` a plain copy.
    """
    bb = b[c0 : c0 + m]
    nrows = src.shape[0]
    for i in range(n):
        if r0 + i + 4 < nrows:
            ahead = src[r0 + i + 4]
            for k in range(c0, c0 + m, 8):
                _prefetch(ahead, k)
        _cost_row(a[r0 + i], bb, s, src[r0 + i, c0 : c0 + m], clamp, Cp[i, :m])


@njit(cache=True, nogil=True, fastmath=_FM)
def _sym_cell(Cp, D, i, j, dw):
    r"""One symmetric cell from the trellis: :math:`\min(D_d + w c, D_u + c, D_l + c)`."""
    c = Cp[i, j]
    v = min(min(D[i, j + 1] + dw * c, D[i, j + 2] + c), D[i + 1, j + 1] + c)
    D[i + 1, j + 2] = v
    return v


@njit(cache=True, nogil=True, fastmath=_FM)
def _sym_rows4(Cp, D, r, m, dw):
    """Rows ``r..r+3`` of a symmetric trellis without band, skewed by one column per row so
    that the four dependency chains (each cell needs its left neighbour) run interleaved."""
    for k in range(4):
        D[r + k + 1, 0] = INF
        D[r + k + 1, 1] = INF
    for j in range(3):  # prologue: row r + k starts at step k
        for k in range(4):
            if 0 <= j - k < m:
                _sym_cell(Cp, D, r + k, j - k, dw)
    if m > 3:
        l0 = D[r + 1, 4]
        l1 = D[r + 2, 3]
        l2 = D[r + 3, 2]
        l3 = INF
        D0 = D[r]
        D1 = D[r + 1]
        D2 = D[r + 2]
        D3 = D[r + 3]
        D4 = D[r + 4]
        C0 = Cp[r]
        C1 = Cp[r + 1]
        C2 = Cp[r + 2]
        C3 = Cp[r + 3]
        for j in range(3, m):
            c = C0[j]
            l0 = min(min(D0[j + 1] + dw * c, D0[j + 2] + c), l0 + c)
            D1[j + 2] = l0
            c = C1[j - 1]
            l1 = min(min(D1[j] + dw * c, D1[j + 1] + c), l1 + c)
            D2[j + 1] = l1
            c = C2[j - 2]
            l2 = min(min(D2[j - 1] + dw * c, D2[j] + c), l2 + c)
            D3[j] = l2
            c = C3[j - 3]
            l3 = min(min(D3[j - 2] + dw * c, D3[j - 1] + c), l3 + c)
            D4[j - 1] = l3
    for j in range(max(3, m), m + 3):  # epilogue
        for k in range(4):
            if 0 <= j - k < m:
                _sym_cell(Cp, D, r + k, j - k, dw)


@njit(cache=True, nogil=True, fastmath=_FM)
def hard_fill(src, a, b, s, clamp, r0, c0, n, m, step, lo, hi, Cp, D):
    """Fill the local costs ``Cp`` (:func:`load_block`, a few rows at a time, just before they
    are used) and the prefix trellis :math:`D` of one pair; return :math:`D(n-1, m-1)`."""
    for j in range(m + 4):
        D[0, j] = INF
    if step == ASYMMETRIC:
        D[0, 2] = 0.0
    else:
        D[0, 1] = 0.0
    prev_hi = -1
    start = 0
    if step != ASYMMETRIC and lo[n - 1] == 0 and hi[0] == m - 1:  # full rows: 4 at a time
        dw = 2.0 if step == SYMMETRIC2 else 1.0
        start = n - n % 4
        for r in range(0, start, 4):
            load_block(src, a, b, s, clamp, r0 + r, c0, 4, m, Cp[r : r + 4])
            _sym_rows4(Cp, D, r, m, dw)
        prev_hi = m - 1
    load_block(src, a, b, s, clamp, r0 + start, c0, n - start, m, Cp[start:n])
    for i in range(start, n):
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


@njit(cache=True, nogil=True, fastmath=_FM)
def _sym_cell_back(Cp, H, i, j, dw):
    """One symmetric cell of the cost-to-go trellis (see :func:`hard_fill_back`)."""
    v = min(
        min(dw * Cp[i + 1, j + 1] + H[i + 2, j + 3], Cp[i + 1, j] + H[i + 2, j + 2]),
        Cp[i, j + 1] + H[i + 1, j + 3],
    )
    H[i + 1, j + 2] = v


@njit(cache=True, nogil=True, fastmath=_FM)
def _sym_rows4_back(Cp, H, r, m, dw):
    """Rows ``r, r-1, r-2, r-3`` of a symmetric cost-to-go trellis without band, right to
    left, skewed by one column per row (the mirror image of :func:`_sym_rows4`)."""
    for k in range(4):
        H[r - k + 1, m + 2] = INF
        H[r - k + 1, m + 3] = INF
    for t in range(3):  # prologue: row r - k starts at step k
        for k in range(4):
            if 0 <= t - k < m:
                _sym_cell_back(Cp, H, r - k, m - 1 - t + k, dw)
    if m > 3:
        h0 = H[r + 1, m - 1]  # the last value each row wrote: its right neighbour
        h1 = H[r, m]
        h2 = H[r - 1, m + 1]
        h3 = INF
        N0 = H[r + 2]
        N1 = H[r + 1]
        N2 = H[r]
        N3 = H[r - 1]
        R3 = H[r - 2]
        C0 = Cp[r + 1]
        C1 = Cp[r]
        C2 = Cp[r - 1]
        C3 = Cp[r - 2]
        C4 = Cp[r - 3]
        for t in range(3, m):
            j = m - 1 - t
            h0 = min(min(dw * C0[j + 1] + N0[j + 3], C0[j] + N0[j + 2]), C1[j + 1] + h0)
            N1[j + 2] = h0
            j += 1
            h1 = min(min(dw * C1[j + 1] + N1[j + 3], C1[j] + N1[j + 2]), C2[j + 1] + h1)
            N2[j + 2] = h1
            j += 1
            h2 = min(min(dw * C2[j + 1] + N2[j + 3], C2[j] + N2[j + 2]), C3[j + 1] + h2)
            N3[j + 2] = h2
            j += 1
            h3 = min(min(dw * C3[j + 1] + N3[j + 3], C3[j] + N3[j + 2]), C4[j + 1] + h3)
            R3[j + 2] = h3
    for t in range(max(3, m), m + 3):  # epilogue
        for k in range(4):
            if 0 <= t - k < m:
                _sym_cell_back(Cp, H, r - k, m - 1 - t + k, dw)


@njit(cache=True, nogil=True, fastmath=_FM)
def _back_row(Cp, H, i, n, m, step, lo_i, hi_i, next_lo):
    """Row ``i`` of the cost-to-go trellis over columns ``lo_i..hi_i`` (``next_lo``: the first
    column of row ``i + 1``)."""
    Hn = H[i + 2]
    Hc = H[i + 1]
    Cn = Cp[i + 1]
    Cr = Cp[i]
    for j in range(lo_i, min(next_lo, m)):
        Hn[j + 2] = INF
    Hc[hi_i + 3] = INF
    Hc[hi_i + 4] = INF
    if step == ASYMMETRIC:
        for j in range(lo_i, hi_i + 1):
            Hc[j + 2] = min(min(Cn[j] + Hn[j + 2], Cn[j + 1] + Hn[j + 3]), Cn[j + 2] + Hn[j + 4])
        if i == n - 1:
            Hc[m + 1] = 0.0
    else:
        right = INF
        start = hi_i
        if i == n - 1:
            Hc[m + 1] = 0.0
            right = 0.0
            start = m - 2
        w = 2.0 if step == SYMMETRIC2 else 1.0
        for j in range(start, lo_i - 1, -1):
            right = min(min(w * Cn[j + 1] + Hn[j + 3], Cn[j] + Hn[j + 2]), Cr[j + 1] + right)
            Hc[j + 2] = right


@njit(cache=True, nogil=True)
def hard_fill_back(Cp, n, m, step, lo, hi, H):
    r"""Fill the cost-to-go trellis :math:`H(i, j)`: the least energy of a path from
    :math:`(i, j)` (excluded) to :math:`(n-1, m-1)` (included), e.g. for symmetric1

    .. math:: H(i,j) = \min\{c(i{+}1,j{+}1) + H(i{+}1,j{+}1),\ c(i{+}1,j) + H(i{+}1,j),\
              c(i,j{+}1) + H(i,j{+}1)\},\quad H(n-1, m-1) = 0,

    so that :math:`D(x) + H(x)` is the least energy of a path through :math:`x`.
    """
    for j in range(m + 4):
        H[n + 1, j] = INF
    _back_row(Cp, H, n - 1, n, m, step, lo[n - 1], hi[n - 1], m)
    i = n - 2
    if step != ASYMMETRIC and lo[n - 1] == 0 and hi[0] == m - 1:  # full rows: 4 at a time
        dw = 2.0 if step == SYMMETRIC2 else 1.0
        while i >= 3:
            _sym_rows4_back(Cp, H, i, m, dw)
            i -= 4
    while i >= 0:
        _back_row(Cp, H, i, n, m, step, lo[i], hi[i], lo[i + 1])
        i -= 1


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


# ----------------------------------------------------------------------------------------------
# soft trellis of one pair


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


@njit(cache=True, nogil=True)
def relevance_threshold(tstar, n, m, gamma):
    """Energy above which the paths through a cell carry less than :math:`e^{-40}` of the
    total: at most :math:`3^{n+m}` paths exist, each of energy above the threshold."""
    return tstar + gamma * ((n + m) * LOG3 + 40.0) + 1e-12 * abs(tstar) + 1e-300


@njit(cache=True, nogil=True)
def _relevant_span(F, H, thr):
    """First and last index ``k`` with ``F[k] + H[k] <= thr`` (``(len, -1)`` if none)."""
    size = F.shape[0]
    first = size
    last = -1
    for k in range(size):
        relevant = F[k] + H[k] <= thr
        first = min(first, k if relevant else size)
        last = max(last, k if relevant else -1)
    return first, last


@njit(cache=True, nogil=True)
def hull(F, H, n, lo, hi, thr, hlo, hhi):
    """Monotone per-row column ranges ``hlo..hhi`` covering every cell with
    ``F + H <= thr``; returns False if some row has no such cell (then keep the band)."""
    for i in range(n):
        first, last = _relevant_span(
            F[i + 1, lo[i] + 2 : hi[i] + 3], H[i + 1, lo[i] + 2 : hi[i] + 3], thr
        )
        if last < 0:
            return False
        hlo[i] = lo[i] + first
        hhi[i] = lo[i] + last
    for i in range(n - 2, -1, -1):
        hlo[i] = min(hlo[i], hlo[i + 1])
    for i in range(1, n):
        hhi[i] = max(hhi[i], hhi[i - 1])
    return True


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
def soft_norm(Cp, n, m, step, lo, hi, gamma, F, W0, W1, W2, Pa, Pb, want_grad, Ob):
    r"""Soft DTW of one pair in the normalized probability domain (see the module docstring).

    ``F`` is the filled hard prefix trellis; ``W0, W1, W2`` (finite contents) receive the edge
    weights from the three predecessors; ``Pa``, ``Pb`` hold :math:`\hat\alpha` and
    :math:`\hat E`. Returns ``(value, ok)``, ``ok`` False on overflow (then use
    :func:`soft_log`). With ``want_grad``, writes the occupancy of row ``i`` into
    ``Ob[i, lo[i] : hi[i] + 1]``.
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
            for j in range(prev_hi + 3, b):
                Pp[j] = 0.0
        Pc[lo_i] = 0.0
        Pc[lo_i + 1] = 0.0
        c = Cp[i, lo_i : hi_i + 1]
        if asym:
            _weights_row(
                Fc[a:b],
                c,
                1.0,
                Fp[a:b],
                Fp[a - 1 : b - 1],
                Fp[a - 2 : b - 2],
                inv,
                X0[a:b],
                X1[a:b],
                X2[a:b],
            )
            _dot3_row(
                X0[a:b],
                X1[a:b],
                X2[a:b],
                Pp[a:b],
                Pp[a - 1 : b - 1],
                Pp[a - 2 : b - 2],
                Pc[a:b],
                0.0,
            )
        else:
            _weights_row(
                Fc[a:b],
                c,
                dw,
                Fp[a - 1 : b - 1],
                Fp[a:b],
                Fc[a - 1 : b - 1],
                inv,
                X0[a:b],
                X1[a:b],
                X2[a:b],
            )
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
            for j in range(a, min(next_lo, m) + 2):
                En[j] = 0.0
        Ec[hi_i + 3] = 0.0
        Ec[hi_i + 4] = 0.0
        if asym:
            _dot3_row(
                W0[i + 2, a:b],
                W1[i + 2, a + 1 : b + 1],
                W2[i + 2, a + 2 : b + 2],
                En[a:b],
                En[a + 1 : b + 1],
                En[a + 2 : b + 2],
                Ec[a:b],
                FLUSH,
            )
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
        _occupancy_row(
            Pb[i + 1, lo_i + 2 : hi_i + 3],
            Pa[i + 1, lo_i + 2 : hi_i + 3],
            W0[i + 1, lo_i + 2 : hi_i + 3],
            Pa[i, lo_i + 1 : hi_i + 2],
            step == SYMMETRIC2,
            Ob[i, lo_i : hi_i + 1],
        )
    return value, True


@njit(cache=True, nogil=True, fastmath=_FM)
def soft_log(Cp, n, m, step, lo, hi, gamma, R, W0, W1, W2, E, want_grad, Ob):
    r"""Soft DTW of one pair in the log domain (stable for any :math:`\gamma > 0`).

    ``R`` is the soft accumulated cost; ``Wk[x]`` the soft-min weight of predecessor ``k``
    in the recursion of cell ``x``; the backward pass gathers
    :math:`E(y) = \sum_{x} E(x) W_x(y)` over the successors ``x`` of ``y`` and writes the
    occupancy of row ``i`` into ``Ob[i, lo[i] : hi[i] + 1]``.
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
        Gr = Ob[i]
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
            Gr[j] = e
    return value


@njit(cache=True, nogil=True)
def emit_dense(Ob, n, m, lo, hi, G, r0, c0):
    """Occupancy rows ``Ob[i, lo[i]..hi[i]]`` into the whole block ``G[r0:r0+n, c0:c0+m]``."""
    for i in range(n):
        Gr = G[r0 + i]
        Or = Ob[i]
        for j in range(lo[i]):
            Gr[c0 + j] = 0.0
        for j in range(lo[i], hi[i] + 1):
            Gr[c0 + j] = Or[j]
        for j in range(hi[i] + 1, m):
            Gr[c0 + j] = 0.0


@njit(cache=True, nogil=True)
def emit_compact(Ob, n, lo, hi, thr, Gc, pos, spans):
    """Occupancy rows, trimmed to the columns ``first..last`` whose occupancy exceeds
    ``thr``, packed one after the other into ``Gc`` from ``pos``; ``spans[i] = (first, last,
    start in Gc)``. Returns the next free position."""
    for i in range(n):
        row = Ob[i]
        first = lo[i]
        while first <= hi[i] and not row[first] > thr:
            first += 1
        last = hi[i]
        while last > first and not row[last] > thr:
            last -= 1
        spans[i, 2] = pos
        if first > hi[i]:
            spans[i, 0] = 0
            spans[i, 1] = -1
            continue
        spans[i, 0] = first
        spans[i, 1] = last
        for j in range(first, last + 1):
            Gc[pos + j - first] = row[j]
        pos += last - first + 1
    return pos


# ----------------------------------------------------------------------------------------------
# batched drivers and gradient scatters


@njit(cache=True)
def feasible_pairs(n, m, step, band, out):
    """``out[p] = feasible_one(n[p], m[p], step, band)`` for every pair (serial: it is cheap,
    and waking a thread pool between torch's and ours costs more)."""
    for p in range(n.shape[0]):
        out[p] = feasible_one(n[p], m[p], step, band)


@njit(cache=True, nogil=True)
def _zero_block(G, r0, c0, n, m):
    for i in range(n):
        for j in range(m):
            G[r0 + i, c0 + j] = 0.0


HARD_ENERGY = 0
HARD_PATH = 1
SOFT = 2


@njit(cache=True, nogil=True)
def _run_chunk(mode, p0, p1, src, a, b, s, clamp, r0, c0, n, m, ok, step, band, gamma, out,
               want_grad, G, Gc, pbase, spans, thr, used_log, norm_limit, poff, plen, pi, pj, pw):
    """Pairs ``p0..p1-1`` in order, with one set of scratch trellises (see :func:`run_pairs`)."""
    if p1 <= p0:
        return
    maxn = n[p0:p1].max()
    maxm = m[p0:p1].max()
    soft = mode == SOFT
    sn = maxn if soft else 0
    sm = maxm if soft else 0
    Cp = np.zeros((maxn + 1, maxm + 4))
    F = np.empty((maxn + 2, maxm + 4))
    lo = np.empty(maxn, dtype=np.int64)
    hi = np.empty(maxn, dtype=np.int64)
    H = np.empty((sn + 2, sm + 4))
    W0 = np.zeros((sn + 2, sm + 4))
    W1 = np.zeros((sn + 2, sm + 4))
    W2 = np.zeros((sn + 2, sm + 4))
    Pa = np.empty((sn + 2, sm + 4))
    Pb = np.empty((sn + 2, sm + 4))
    Ob = np.empty((sn, sm))
    hlo = np.empty(sn, dtype=np.int64)
    hhi = np.empty(sn, dtype=np.int64)
    R = np.empty((0, 0))
    E = np.empty((0, 0))
    compact = Gc.shape[0] > 0
    for p in range(p0, p1):
        np_, mp, rp, cp = n[p], m[p], r0[p], c0[p]
        if not ok[p]:
            out[p] = INF
            if mode == HARD_PATH:
                plen[p] = 0
            elif soft and want_grad and compact:
                for i in range(np_):
                    spans[p, i, 0] = 0
                    spans[p, i, 1] = -1
                    spans[p, i, 2] = pbase[p]
            elif soft and want_grad:
                _zero_block(G, rp, cp, np_, mp)
            continue
        row_ranges(np_, mp, band, step, lo, hi)
        tstar = hard_fill(src, a, b, s, clamp, rp, cp, np_, mp, step, lo, hi, Cp, F)
        if mode == HARD_ENERGY:
            out[p] = tstar
            continue
        if mode == HARD_PATH:
            out[p] = tstar
            plen[p] = hard_backtrack(Cp, np_, mp, step, F, pi, pj, pw, poff[p])
            continue
        hard_fill_back(Cp, np_, mp, step, lo, hi, H)
        if hull(F, H, np_, lo, hi, relevance_threshold(tstar, np_, mp, gamma), hlo, hhi):
            rlo, rhi = hlo, hhi
        else:
            rlo, rhi = lo, hi
        good = np_ + mp <= norm_limit
        value = INF
        if good:
            value, good = soft_norm(Cp, np_, mp, step, rlo, rhi, gamma, F, W0, W1, W2, Pa, Pb,
                                    want_grad, Ob)
        if not good:
            used_log[p] = 1
            if R.shape[0] == 0:
                R = np.empty((maxn + 2, maxm + 4))
                E = np.empty((maxn + 2, maxm + 4))
            value = soft_log(Cp, np_, mp, step, rlo, rhi, gamma, R, W0, W1, W2, E, want_grad, Ob)
        out[p] = value
        if want_grad and compact:
            emit_compact(Ob, np_, rlo, rhi, thr, Gc, pbase[p], spans[p])
        elif want_grad:
            emit_dense(Ob, np_, mp, rlo, rhi, G, rp, cp)


@njit(cache=True, parallel=True)
def run_pairs(mode, src, a, b, s, clamp, r0, c0, n, m, ok, step, band, gamma, out, want_grad,
              G, Gc, pbase, spans, thr, used_log, norm_limit, poff, plen, pi, pj, pw, nch):
    """DTW of every pair, in ``nch`` contiguous chunks of pairs run in parallel (``prange``).

    ``mode`` is ``HARD_ENERGY`` (energies into ``out``), ``HARD_PATH`` (also the best path of
    pair ``p``: its cells and step weights into ``pi, pj, pw[poff[p] : poff[p] + plen[p]]``,
    from the end) or ``SOFT`` (soft energies at ``gamma``; with ``want_grad`` the occupancies
    too). Per soft pair: the hard prefix and cost-to-go trellises, the hull of the cells that
    matter, then :func:`soft_norm` on it, or :func:`soft_log` (``used_log[p] = 1``) when
    ``n + m > norm_limit``. The occupancy goes either into the whole pair block of the dense
    ``G`` (if ``Gc`` is empty), or packed into ``Gc`` from ``pbase[p]`` (:func:`emit_compact`;
    ``spans[p]`` says where), the form the backward pass of the grid reads. Arguments a mode
    does not use may be dummies. (One driver for all modes: each ``parallel=True`` function
    costs seconds of JIT compilation.)
    """
    npairs = n.shape[0]
    nch = max(1, min(npairs, nch))
    for t in prange(nch):
        _run_chunk(mode, t * npairs // nch, (t + 1) * npairs // nch, src, a, b, s, clamp, r0, c0,
                   n, m, ok, step, band, gamma, out, want_grad, G, Gc, pbase, spans, thr,
                   used_log, norm_limit, poff, plen, pi, pj, pw)


# ----------------------------------------------------------------------------------------------
# gradient scatters: serial over a range [lo, hi) of pairs, queries or templates, with the GIL
# released, so that asr.dtw.api runs them on a few threads (they are light; compiling them
# without ``parallel=True`` halves their JIT time)


@njit(cache=True, nogil=True)
def scale_blocks(lo, hi, G, r0, c0, n, m, w, out):
    """``out``'s block of pair ``p`` = ``w[p]`` times ``G``'s block, for ``lo <= p < hi``."""
    for p in range(lo, hi):
        wp = w[p]
        for i in range(n[p]):
            Gr = G[r0[p] + i]
            Or = out[r0[p] + i]
            for j in range(c0[p], c0[p] + m[p]):
                Or[j] = Gr[j] * wp


@njit(cache=True, nogil=True)
def scatter_paths(lo, hi, r0, c0, poff, plen, pi, pj, pw, g, out):
    """Add ``g[p]`` times the step-weighted path indicator of pair ``p`` into ``out``."""
    for p in range(lo, hi):
        gp = g[p]
        for k in range(poff[p], poff[p] + plen[p]):
            out[r0[p] + pi[k], c0[p] + pj[k]] += pw[k] * gp


@njit(cache=True, nogil=True)
def path_grad_rows(lo, hi, U, V, s, r0, c0, poff, plen, pi, pj, pw, g, B, gU, ga):
    r"""Gradient of :math:`\sum_p g_p E_p` w.r.t. the frames of queries ``lo..hi-1``, for local
    costs :math:`a_i + b_j + s\, u_i^\top v_j` and hard paths: :math:`\partial/\partial u_i =
    \sum w\, g_p\, s\, v_j`, :math:`\partial/\partial a_i = \sum w\, g_p` over the path cells
    (``w`` the step weight; grid pair ``p = q B + t``)."""
    D = U.shape[1]
    for q in range(lo, hi):
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


@njit(cache=True, nogil=True)
def path_grad_cols(lo, hi, U, V, s, r0, c0, poff, plen, pi, pj, pw, g, A, B, gV, gb):
    """The counterpart of :func:`path_grad_rows` for the frames of templates ``lo..hi-1``."""
    D = U.shape[1]
    for t in range(lo, hi):
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


@njit(cache=True, nogil=True)
def occupancy_grad_rows(lo, hi, Gc, spans, U, V, s, r0, c0, n, g, B, gU, ga):
    r"""Soft-DTW gradient w.r.t. the frames of queries ``lo..hi-1``, with occupancies
    :math:`o_p(i, j)` packed by :func:`emit_compact`: :math:`\partial/\partial u_i =
    \sum_{p, j} g_p\, o_p(i,j)\, s\, v_j` and :math:`\partial/\partial a_i = \sum_{p, j} g_p\,
    o_p(i,j)`. Only the stored cells (occupancy above the threshold, 1e-16 in the API: a
    relative error below about :math:`10^{-12}`) are visited, so the cost follows the cells
    near the best paths."""
    D = U.shape[1]
    acc = np.empty(D)
    for q in range(lo, hi):
        for t in range(B):
            p = q * B + t
            gp = g[p]
            if gp == 0.0:
                continue
            for i in range(n[p]):
                first, last, pos = spans[p, i, 0], spans[p, i, 1], spans[p, i, 2]
                for d in range(D):
                    acc[d] = 0.0
                total = 0.0
                for j in range(first, last + 1):
                    o = Gc[pos + j - first]
                    total += o
                    Vj = V[c0[p] + j]
                    for d in range(D):
                        acc[d] += o * Vj[d]
                ui = r0[p] + i
                ga[ui] += gp * total
                w = gp * s
                for d in range(D):
                    gU[ui, d] += w * acc[d]


@njit(cache=True, nogil=True)
def occupancy_grad_cols(lo, hi, Gc, spans, U, V, s, r0, c0, n, g, A, B, gV, gb):
    """The counterpart of :func:`occupancy_grad_rows` for the frames of templates
    ``lo..hi-1``."""
    D = U.shape[1]
    for t in range(lo, hi):
        for q in range(A):
            p = q * B + t
            gp = g[p]
            if gp == 0.0:
                continue
            w = gp * s
            for i in range(n[p]):
                first, last, pos = spans[p, i, 0], spans[p, i, 1], spans[p, i, 2]
                Ui = U[r0[p] + i]
                for j in range(first, last + 1):
                    o = Gc[pos + j - first]
                    vj = c0[p] + j
                    gb[vj] += gp * o
                    wo = w * o
                    for d in range(D):
                        gV[vj, d] += wo * Ui[d]
