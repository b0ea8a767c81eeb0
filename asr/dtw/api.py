r"""Validated DTW entry points and the autograd bridge to the Numba kernels.

Notation: ``c`` is the local-cost matrix :math:`[N, M]` of an utterance of ``N`` frames against a
template of ``M`` frames; :math:`D(i, j)` is the accumulated cost of the best path from
:math:`(0, 0)` to :math:`(i, j)` (cells outside the band or the matrix are :math:`+\infty`).
Hard recursions (:math:`\gamma = 0`):

.. math::

    \text{symmetric1:}\quad D(i,j) &= c(i,j) + \min\{D(i-1,j-1),\ D(i-1,j),\ D(i,j-1)\},
    \quad D(0,0) = c(0,0)

    \text{symmetric2:}\quad D(i,j) &= \min\{D(i-1,j-1) + 2c(i,j),\ D(i-1,j) + c(i,j),\
    D(i,j-1) + c(i,j)\}, \quad D(0,0) = 2c(0,0)

    \text{asymmetric:}\quad D(i,j) &= c(i,j) + \min\{D(i-1,j),\ D(i-1,j-1),\ D(i-1,j-2)\},
    \quad D(0,0) = c(0,0),\ D(0, j>0) = +\infty

and the energy is :math:`D(N-1, M-1)`, the minimum over paths :math:`z` of the path energy
:math:`E_z = \sum_{(i,j) \in z} w_z(i,j)\, c(i,j)` (step weights :math:`w`, see
:mod:`asr.dtw.steps`). The soft version (:math:`\gamma > 0`) replaces every :math:`\min` by

.. math::

    \operatorname{min}_\gamma(a_1, \dots, a_k) = -\gamma \log \sum_l e^{-a_l / \gamma},

so that the energy becomes the free energy over all paths,
:math:`R(N-1, M-1) = -\gamma \log \sum_z e^{-E_z / \gamma}`, which tends to the hard minimum as
:math:`\gamma \to 0`. Its gradient with respect to :math:`c(i,j)` is the expected step weight of
the cell under the Gibbs distribution :math:`p(z) \propto e^{-E_z/\gamma}` (the occupancy, i.e.
the path posterior of the cell for symmetric1 and asymmetric), computed by the backward recursion
of Cuturi & Blondel (2017, "Soft-DTW: a differentiable loss function for time-series", ICML):
with :math:`\pi_x(y)` the soft-min weight of predecessor ``y`` in the recursion of cell ``x``,

.. math::

    E(N-1, M-1) = 1, \qquad E(y) = \sum_{x \,:\, y \in \mathrm{pred}(x)} E(x)\, \pi_x(y),
    \qquad \frac{\partial R(N-1,M-1)}{\partial c(y)} = E(y)\, \frac{\partial R(y)}{\partial c(y)}.

All weights :math:`\pi` lie in :math:`[0, 1]`, so the backward pass is stable. For
:math:`\gamma = 0` the gradient is the step-weighted indicator of the best path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import torch

from asr.dtw import _kernels as K
from asr.dtw.steps import (
    DtwInputError,
    check_band,
    check_gamma,
    check_metric,
    path_weight,
    pattern_feasible,
    step_code,
)

__all__ = ["Alignment", "dtw", "dtw_energy", "feasible", "local_distances", "pairwise_dtw"]

_NUMPY_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}
_OCC_SKIP = 1e-16  # pairwise backward skips cells with a smaller occupancy (see _kernels)
_BLOCK_BYTES = 4 << 20  # inner products computed per block of queries of about this size
_NORM_LIMIT = 500  # soft DTW of longer pairs (N + M) runs in the log domain (see _kernels)


@dataclass(frozen=True)
class Alignment:
    """The result of :func:`dtw` on one cost matrix.

    Attributes
    ----------
    cost : float
        The DTW energy: hard minimum for ``gamma == 0``, soft-min free energy otherwise.
    path : numpy.ndarray
        ``int64 [L, 2]`` cells ``(i, j)`` of the best (hard) path from ``(0, 0)`` to
        ``(N-1, M-1)``; also for ``gamma > 0`` (the most probable path).
    occupancy : numpy.ndarray or None
        ``float64 [N, M]`` expected step weight of each cell (the gradient of ``cost`` with
        respect to the cost matrix) for ``gamma > 0``; ``None`` for ``gamma == 0``.
    """

    cost: float
    path: np.ndarray
    occupancy: np.ndarray | None = None


def _as_cost_matrix(cost, ndim: int, name: str = "cost") -> np.ndarray | torch.Tensor:
    if isinstance(cost, torch.Tensor):
        arr = cost
        kind = "f" if arr.is_floating_point() else ("c" if arr.is_complex() else "i")
    else:
        arr = np.asarray(cost)
        kind = arr.dtype.kind
    if arr.ndim != ndim:
        raise DtwInputError(f"{name}: expected {ndim} dimensions, got shape {tuple(arr.shape)}")
    if kind not in "fiu":
        raise DtwInputError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if any(s == 0 for s in arr.shape):
        raise DtwInputError(f"{name}: empty dimension in shape {tuple(arr.shape)}")
    return arr


def _check_feasible(n: np.ndarray, m: np.ndarray, code: int, radius: int, step: str) -> np.ndarray:
    """Feasibility of every pair; a pair that only the band makes infeasible is an error."""
    ok = np.empty(n.shape[0], dtype=np.bool_)
    K.feasible_pairs(n, m, code, radius, ok)
    if radius >= 0:
        bad = np.flatnonzero(~ok & pattern_feasible(step, n, m))
        if bad.size:
            p = bad[0]
            raise DtwInputError(
                f"band={radius}: no {step} path fits in the band for N={n[p]}, M={m[p]} "
                "(widen the band)"
            )
    return ok


def _path_buffers(n: np.ndarray, m: np.ndarray):
    """Offsets and storage for one best path per pair (at most ``n + m - 1`` cells each)."""
    sizes = n + m - 1
    poff = np.zeros(n.shape[0], dtype=np.int64)
    np.cumsum(sizes[:-1], out=poff[1:])
    total = int(sizes.sum())
    return (
        poff,
        np.zeros(n.shape[0], dtype=np.int64),
        np.empty(total, dtype=np.int32),
        np.empty(total, dtype=np.int32),
        np.empty(total, dtype=np.float64),
    )


_NO_PATHS = (  # dummies for the outputs a mode does not write
    np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int32), np.zeros(1, np.int32),
    np.zeros(1))


def _no_spans(dtype) -> tuple:
    return np.zeros((1, 1, 3), np.int64), np.zeros(1, np.int64), np.empty(0, dtype=dtype)


def _alloc_outputs(n: np.ndarray, m: np.ndarray, gamma: float, want_grad: bool, packed: bool,
                   dtype=np.float64):
    """``(out, extra)``: energies, and what the backward pass reads: the best paths (hard), or
    for soft ``(spans, pbase, Gc)``, the occupancies packed into ``Gc`` (if ``packed``; else
    ``Gc`` is empty and the occupancies go to a dense buffer, see ``_kernels.run_pairs``).
    ``dtype`` is that of the local costs (the kernels are compiled once per dtype)."""
    out = np.empty(n.shape[0], dtype=np.float64)
    if gamma > 0:
        if not (want_grad and packed):
            return out, _no_spans(dtype)
        sizes = n * m
        pbase = np.zeros(n.shape[0], dtype=np.int64)
        np.cumsum(sizes[:-1], out=pbase[1:])
        spans = np.empty((n.shape[0], int(n.max()), 3), dtype=np.int64)
        return out, (spans, pbase, np.empty(int(sizes.sum()), dtype))  # pages touched on use
    return out, (_path_buffers(n, m) if want_grad else None)


def _subset(extra, gamma: float, want_grad: bool, p0: int, p1: int):
    """The part of ``extra`` (see :func:`_alloc_outputs`) for pairs ``p0..p1``."""
    if not want_grad:
        return extra
    if gamma > 0:
        spans, pbase, packed = extra
        return spans[p0:p1] if packed.size else spans, pbase[p0:p1], packed
    poff, plen, pi, pj, pw = extra
    return poff[p0:p1], plen[p0:p1], pi, pj, pw


def _run_pairs(src, a, b, s, clamp, r0, c0, n, m, ok, code, radius, gamma, G, want_grad, out,
               extra):
    """Energies of the pairs into ``out`` (and ``extra``, ``G``: see :func:`_alloc_outputs`)."""
    nch = 4 * numba.get_num_threads()
    if gamma > 0:
        mode, spans, paths = K.SOFT, extra, _NO_PATHS
    else:
        mode, spans, paths = (K.HARD_PATH, _no_spans(src.dtype), extra) if want_grad else (
            K.HARD_ENERGY, _no_spans(src.dtype), _NO_PATHS)
    used_log = np.zeros(n.shape[0], dtype=np.uint8)
    K.run_pairs(mode, src, a, b, s, clamp, r0, c0, n, m, ok, code, radius, float(gamma), out,
                want_grad, G, spans[2], spans[1], spans[0], _OCC_SKIP, used_log, _NORM_LIMIT,
                *paths, nch)


_POOL: tuple[ThreadPoolExecutor, int] | None = None  # (pool, its number of workers)
_POOL_LOCK = threading.Lock()


def _in_threads(kernel, count: int, *args) -> None:
    """Run ``kernel(lo, hi, *args)`` over ``[0, count)`` split among ``numba.get_num_threads()``
    threads (the gradient kernels release the GIL and write disjoint rows)."""
    global _POOL
    threads = min(numba.get_num_threads(), count)
    if threads <= 1:
        kernel(0, count, *args)
        return
    with _POOL_LOCK:
        if _POOL is None or _POOL[1] < threads:
            _POOL = (ThreadPoolExecutor(max_workers=threads, thread_name_prefix="asr-dtw"), threads)
        pool = _POOL[0]
    bounds = np.linspace(0, count, threads + 1).astype(np.int64)
    ranges = zip(bounds[:-1], bounds[1:], strict=True)
    jobs = [pool.submit(kernel, lo, hi, *args) for lo, hi in ranges]
    for job in jobs:
        job.result()


def _grad_weights(grad_out: torch.Tensor, out: np.ndarray) -> np.ndarray:
    w = grad_out.detach().to(torch.float64).contiguous().numpy().reshape(-1).copy()
    w[~np.isfinite(out)] = 0.0  # infeasible pairs: +inf energy, zero gradient (never NaN)
    return w


def feasible(n, m, *, step: str = "symmetric1", band: int | None = None) -> np.ndarray:
    """Whether a warping path exists for utterance lengths ``n`` and template lengths ``m``.

    Without a band, only ``"asymmetric"`` can be infeasible (when ``m - 1 > 2 (n - 1)``); the
    batched functions give such pairs an energy of ``+inf`` and a zero gradient.

    Parameters
    ----------
    n, m : array_like of int
        Lengths (broadcast against each other), each >= 1.
    step : str
        Step pattern.
    band : int or None
        Sakoe-Chiba radius, see :mod:`asr.dtw.steps`.

    Returns
    -------
    numpy.ndarray
        Boolean array of the broadcast shape.

    Examples
    --------
    >>> feasible([10, 10], [19, 20], step="asymmetric")
    array([ True, False])
    """
    code = step_code(step)
    radius = check_band(band)
    n, m = np.broadcast_arrays(np.asarray(n, dtype=np.int64), np.asarray(m, dtype=np.int64))
    if n.size and (n.min() < 1 or m.min() < 1):
        raise DtwInputError("n, m: lengths must be >= 1")
    ok = np.empty(n.size, dtype=np.bool_)
    K.feasible_pairs(
        np.ascontiguousarray(n).ravel(), np.ascontiguousarray(m).ravel(), code, radius, ok
    )
    return ok.reshape(n.shape)


def dtw(
    cost, *, step: str = "symmetric1", band: int | None = None, gamma: float = 0.0
) -> Alignment:
    r"""DTW of one local-cost matrix: energy, best path and (soft) occupancy.

    Parameters
    ----------
    cost : array_like or torch.Tensor
        ``[N, M]`` local costs, finite (any real dtype; computed in float64).
    step : {"symmetric1", "symmetric2", "asymmetric"}
        Step pattern (recursions in :mod:`asr.dtw.api`).
    band : int or None
        Sakoe-Chiba radius along the line from ``(0, 0)`` to ``(N-1, M-1)``.
    gamma : float
        0 for the hard minimum; > 0 for the soft-min :math:`-\gamma \log \sum_z e^{-E_z/\gamma}`.

    Returns
    -------
    Alignment
        ``cost``, ``path`` and, for ``gamma > 0``, ``occupancy``.

    Raises
    ------
    DtwInputError
        (a ``ValueError``) on a wrong shape, non-finite costs, an unknown step, a negative gamma,
        or when no path exists (band too narrow, or an asymmetric template longer than
        ``2N - 1``).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([[0., 1., 2.], [1., 0., 1.], [2., 1., 0.]])
    >>> a = dtw(c)
    >>> a.cost, a.path.tolist()
    (0.0, [[0, 0], [1, 1], [2, 2]])
    >>> soft = dtw(c, step="symmetric2", gamma=0.1)
    >>> soft.occupancy.diagonal().round(3).tolist()  # symmetric2: diagonal cells weigh 2
    [2.0, 2.0, 2.0]
    """
    code = step_code(step)
    radius = check_band(band)
    gamma = check_gamma(gamma)
    arr = _as_cost_matrix(cost, 2)
    if isinstance(arr, torch.Tensor):
        arr = arr.detach().cpu().numpy()
    C = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(C).all():
        raise DtwInputError("cost: contains NaN or infinite values")
    n, m = C.shape
    if not K.feasible_one(n, m, code, radius):
        if not pattern_feasible(step, n, m):
            raise DtwInputError(
                f"step={step!r}: a template of M={m} frames cannot be matched to N={n} "
                "utterance frames (needs M <= 2N - 1)"
            )
        raise DtwInputError(f"band={radius}: no {step} path fits in the band for N={n}, M={m}")
    one = np.zeros(1, dtype=np.int64)
    shape = (np.array([n], dtype=np.int64), np.array([m], dtype=np.int64))
    args = (
        C,
        np.zeros(n),
        np.zeros(m),
        1.0,
        False,
        one,
        one,
        *shape,
        np.ones(1, np.bool_),
        code,
        radius,
    )
    value, paths = _alloc_outputs(shape[0], shape[1], 0.0, True, False)
    _run_pairs(*args, 0.0, np.empty((1, 1)), True, value, paths)
    length = int(paths[1][0])
    path = np.stack([paths[2][:length][::-1], paths[3][:length][::-1]], axis=1).astype(np.int64)
    occupancy = None
    if gamma > 0:
        occupancy = np.empty_like(C)
        value, extra = _alloc_outputs(shape[0], shape[1], gamma, True, False)
        _run_pairs(*args, gamma, occupancy, True, value, extra)
    return Alignment(float(value[0]), path, occupancy)


class _BlockDTW(torch.autograd.Function):
    """Energies of the pair blocks of one explicit 2-D cost buffer (``dtw_energy``)."""

    @staticmethod
    def forward(ctx, cost2d, r0, c0, n, m, ok, code, radius, gamma):
        C = cost2d.detach().contiguous().numpy()
        want_grad = bool(ctx.needs_input_grad[0])
        G = np.zeros_like(C) if want_grad and gamma > 0 else np.empty((1, 1), dtype=C.dtype)
        a = np.zeros(C.shape[0])
        b = np.zeros(C.shape[1])
        out, paths = _alloc_outputs(n, m, gamma, want_grad, False, C.dtype)
        _run_pairs(
            C, a, b, 1.0, False, r0, c0, n, m, ok, code, radius, gamma, G, want_grad, out, paths
        )
        ctx.state = (C.shape, C.dtype, r0, c0, n, m, out, G, paths, gamma)
        return torch.from_numpy(out).to(cost2d.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        shape, dtype, r0, c0, n, m, out, G, paths, gamma = ctx.state
        w = _grad_weights(grad_out, out)
        grad = np.zeros(shape, dtype=dtype)
        if gamma > 0:
            _in_threads(K.scale_blocks, n.shape[0], G, r0, c0, n, m, w, grad)
        else:
            _in_threads(K.scatter_paths, n.shape[0], r0, c0, *paths, w, grad)
        return torch.from_numpy(grad), *([None] * 8)


def _query_blocks(nx: np.ndarray, max_rows: int) -> list[tuple[int, int]]:
    """Split the queries into runs ``[q0, q1)`` of at most ``max_rows`` frames (at least one
    query each)."""
    blocks, q0, rows = [], 0, 0
    for q, t in enumerate(nx):
        if rows + t > max_rows and q > q0:
            blocks.append((q0, q))
            q0, rows = q, 0
        rows += t
    blocks.append((q0, len(nx)))
    return blocks


class _GridDTW(torch.autograd.Function):
    r"""Energies of all (query, template) pairs with local costs
    :math:`c(i,j) = a_i + b_j + s\, u_i^\top v_j` (clamped at 0).

    The inner products come from BLAS, one block of queries at a time (about
    ``_BLOCK_BYTES``, so that the kernels read them from cache), into one reused numpy
    buffer. BLAS is much faster (up to 4x in float32 here) with the inner dimension padded to a
    multiple of 8 and the row stride to a multiple of 16. When some pairs are left out
    (``pairs``, competitor pruning), a block's products are taken with only the templates that
    one of its queries is aligned with.
    """

    @staticmethod
    def forward(ctx, U, V, a, b, s, meta):
        r0, c0, n, m, ok, code, radius, gamma, A, B = meta
        Ud = U.detach().contiguous()
        Vd = V.detach().contiguous()
        k = -(-Ud.shape[1] // 8) * 8
        Up = torch.nn.functional.pad(Ud, (0, k - Ud.shape[1])) if k != Ud.shape[1] else Ud
        Vp = torch.nn.functional.pad(Vd, (0, k - Vd.shape[1])) if k != Vd.shape[1] else Vd
        ld = -(-Vd.shape[0] // 16) * 16
        dtype = _NUMPY_DTYPE[Ud.dtype]
        nx, offx = n[::B], r0[::B]
        blocks = _query_blocks(nx, max(int(nx.max()), _BLOCK_BYTES // (ld * dtype().itemsize)))
        buf = np.empty((max(int(nx[q0:q1].sum()) for q0, q1 in blocks), ld), dtype=dtype)
        want_grad = any(ctx.needs_input_grad[:4])
        G = np.empty((1, 1), dtype)  # soft occupancies are packed (see _alloc_outputs)
        av = a.detach().to(torch.float64).contiguous().numpy()
        bv = b.detach().to(torch.float64).contiguous().numpy()
        out, extra = _alloc_outputs(n, m, gamma, want_grad, True, dtype)
        ny = m[:B]
        for q0, q1 in blocks:
            rs, re, p0, p1 = offx[q0], offx[q1 - 1] + nx[q1 - 1], q0 * B, q1 * B
            blk = buf[: re - rs]
            used = ok[p0:p1].reshape(q1 - q0, B).any(axis=0)
            if used.all():  # every template: one product with all of them
                torch.mm(Up[rs:re], Vp.T, out=torch.from_numpy(blk)[:, : Vd.shape[0]])
                cols, bcols = c0[p0:p1], bv
            else:  # pruned pairs: the products with the templates some query of the block uses
                frames = np.flatnonzero(np.repeat(used, ny))  # the used templates' frames
                start = np.zeros(B, dtype=np.int64)
                start[used] = np.concatenate(([0], np.cumsum(ny[used])[:-1]))
                index = torch.from_numpy(frames)
                torch.mm(Up[rs:re], Vp[index].T, out=torch.from_numpy(blk)[:, : frames.size])
                cols, bcols = np.tile(start, q1 - q0), np.ascontiguousarray(bv[frames])
            sub = (r0[p0:p1] - rs, cols, n[p0:p1], m[p0:p1], ok[p0:p1])
            _run_pairs(blk, av[rs:re], bcols, s, True, *sub, code, radius, gamma, G, want_grad,
                       out[p0:p1], _subset(extra, gamma, want_grad, p0, p1))
        ctx.state = (Ud, Vd, s, meta, out, G, extra, a.dtype, b.dtype)
        return torch.from_numpy(out).to(U.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        Ud, Vd, s, meta, out, G, paths, a_dtype, b_dtype = ctx.state
        r0, c0, n, m = meta[:4]
        w = _grad_weights(grad_out, out)
        Un, Vn = Ud.numpy(), Vd.numpy()
        gU = np.zeros(Un.shape)
        gV = np.zeros(Vn.shape)
        ga = np.zeros(Un.shape[0])
        gb = np.zeros(Vn.shape[0])
        A, B = meta[8:]
        if meta[7] > 0:
            spans, _, packed = paths
            common = (packed, spans, Un, Vn, s, r0, c0, n, w)
            _in_threads(K.occupancy_grad_rows, A, *common, B, gU, ga)
            _in_threads(K.occupancy_grad_cols, B, *common, A, B, gV, gb)
        else:
            common = (Un, Vn, s, r0, c0, *paths, w)
            _in_threads(K.path_grad_rows, A, *common, B, gU, ga)
            _in_threads(K.path_grad_cols, B, *common, A, B, gV, gb)
        gU, gV, ga, gb = (torch.from_numpy(x) for x in (gU, gV, ga, gb))
        return gU.to(Ud.dtype), gV.to(Vd.dtype), ga.to(a_dtype), gb.to(b_dtype), None, None


def _as_lengths(x, name: str, size: int, limit: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise DtwInputError(f"{name}: expected shape ({size},), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise DtwInputError(f"{name}: expected integer lengths, got dtype {arr.dtype}")
    if size and (arr.min() < 1 or arr.max() > limit):
        raise DtwInputError(f"{name}: lengths must lie in 1..{limit}, got {arr.min()}..{arr.max()}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def dtw_energy(
    cost: torch.Tensor,
    n,
    m,
    *,
    step: str = "symmetric1",
    band: int | None = None,
    gamma: float = 0.0,
) -> torch.Tensor:
    r"""Differentiable DTW energies of a padded batch of cost matrices.

    Parameters
    ----------
    cost : torch.Tensor
        ``[P, N, M]`` float32 or float64 local costs; pair ``p`` uses
        ``cost[p, :n[p], :m[p]]`` (the padding is never read, never receives gradient).
    n, m : array_like or torch.Tensor of int
        ``[P]`` true lengths, ``1 <= n[p] <= N`` and ``1 <= m[p] <= M``.
    step, band, gamma
        As in :func:`dtw`.

    Returns
    -------
    torch.Tensor
        ``[P]`` energies in ``cost.dtype``: :math:`D(n-1, m-1)` (hard) or
        :math:`R(n-1, m-1)` (soft). A pair without any path (asymmetric with
        ``m > 2n - 1``) gets ``+inf`` and a zero gradient. Backward gives
        ``grad_out[p]`` times the step-weighted best-path indicator (hard) or the expected
        occupancy (soft); the recursions run in float64. ``cost`` is never modified.

    Examples
    --------
    >>> c = torch.rand(4, 6, 5, dtype=torch.float64, requires_grad=True)
    >>> e = dtw_energy(c, [6, 3, 5, 1], [5, 5, 2, 1], gamma=0.1)
    >>> e.sum().backward()
    >>> bool(c.grad[1, 3:].abs().sum() == 0)  # padding gets no gradient
    True
    """
    code = step_code(step)
    radius = check_band(band)
    gamma = check_gamma(gamma)
    if not isinstance(cost, torch.Tensor):
        cost = torch.as_tensor(_as_cost_matrix(cost, 3))
    _as_cost_matrix(cost, 3)
    if cost.dtype not in (torch.float32, torch.float64):
        raise DtwInputError(f"cost: expected float32 or float64, got {cost.dtype}")
    P, N, M = cost.shape
    n = _as_lengths(n, "n", P, N)
    m = _as_lengths(m, "m", P, M)
    cost = cost.cpu() if cost.device.type != "cpu" else cost
    finite = torch.isfinite(cost.detach())
    if not bool(finite.all()):
        inside = (torch.arange(N)[None, :, None] < torch.from_numpy(n)[:, None, None]) & (
            torch.arange(M)[None, None, :] < torch.from_numpy(m)[:, None, None]
        )
        if bool((inside & ~finite).any()):
            raise DtwInputError("cost: contains NaN or infinite values inside the true lengths")
    ok = _check_feasible(n, m, code, radius, step)
    r0 = np.arange(P, dtype=np.int64) * N
    c0 = np.zeros(P, dtype=np.int64)
    return _BlockDTW.apply(cost.reshape(P * N, M), r0, c0, n, m, ok, code, radius, gamma)


def _all_finite(x: torch.Tensor) -> bool:
    """Whether every entry is finite. A NaN or infinity makes the sum non-finite, so a finite
    sum (the usual case: one reduction in the tensor's own dtype, several times faster than a
    float64 sum or an element-wise test) settles it; only a non-finite sum, which an overflow
    of large finite values could also give, needs the element-wise test."""
    x = x.detach()
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def _packed_sequences(frames, lengths, name: str) -> tuple[torch.Tensor, np.ndarray]:
    """Check packed sequences: ``frames`` [sum of lengths, D], ``lengths`` [B] (each >= 1)."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 2 or frames.shape[1] < 1:
        raise DtwInputError(f"{name}: packed sequences must be one [sum M_b, D >= 1] tensor")
    if frames.dtype not in (torch.float32, torch.float64):
        raise DtwInputError(f"{name}: expected float32 or float64, got {frames.dtype}")
    n = np.asarray(lengths.detach().cpu() if isinstance(lengths, torch.Tensor) else lengths)
    if n.ndim != 1 or n.size == 0 or n.dtype.kind not in "iu" or n.min() < 1:
        raise DtwInputError(f"{name}: lengths must be a non-empty list of integers >= 1")
    if int(n.sum()) != frames.shape[0]:
        raise DtwInputError(f"{name}: lengths add up to {int(n.sum())}, not to the "
                            f"{frames.shape[0]} frames given")
    return frames, n.astype(np.int64)


def _stack_sequences(seqs, name: str) -> list[torch.Tensor]:
    if isinstance(seqs, torch.Tensor) or not isinstance(seqs, Sequence) or len(seqs) == 0:
        raise DtwInputError(f"{name}: expected a non-empty list of [T, D] tensors")
    out = []
    for k, s in enumerate(seqs):
        if not isinstance(s, torch.Tensor):
            s = torch.as_tensor(np.asarray(s))
        if s.ndim != 2 or s.shape[0] < 1 or s.shape[1] < 1:
            raise DtwInputError(
                f"{name}[{k}]: expected shape [T >= 1, D >= 1], got {tuple(s.shape)}"
            )
        if s.dtype not in (torch.float32, torch.float64):
            raise DtwInputError(f"{name}[{k}]: expected float32 or float64, got {s.dtype}")
        out.append(s)
    return out


def _cost_factors(X: torch.Tensor, Y: torch.Tensor, metric: str):
    r"""``(U, V, a, b, s)`` with local cost :math:`a_i + b_j + s\, u_i^\top v_j`."""
    if metric == "sqeuclidean":
        return X, Y, _squared_norms(X), _squared_norms(Y), -2.0
    U = X / X.norm(dim=1, keepdim=True).clamp_min(1e-12)
    V = Y / Y.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return U, V, X.new_ones(X.shape[0]), Y.new_zeros(Y.shape[0]), -1.0


def _squared_norms(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\lVert x_i \rVert^2` of every row. Without autograd, row-wise inner products
    (no ``[rows, D]`` temporary: 3-6x faster on the 180,000 frames of an exemplar expert);
    with it, ``(x * x).sum(1)``, whose backward is the cheaper one."""
    if torch.is_grad_enabled() and x.requires_grad:
        return (x * x).sum(1)
    return torch.einsum("ij,ij->i", x, x)


def local_distances(x, y, metric: str = "sqeuclidean") -> torch.Tensor:
    r"""Local cost matrix ``[N, M]`` (float64) between the frames of ``x`` [N, d] and ``y`` [M, d].

    The costs :func:`pairwise_dtw` uses: :math:`\lVert x_i - y_j \rVert^2` (``sqeuclidean``) or
    :math:`1 - \cos(x_i, y_j)` (``cosine``), for alignments, pictures and barycenters that
    must agree with the energies.

    >>> local_distances(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 3.0], [1.0, 1.0]])).tolist()
    [[4.0, 1.0]]
    """
    check_metric(metric)
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if metric == "cosine":
        unit = torch.nn.functional.normalize
        return 1 - unit(x, dim=1) @ unit(y, dim=1).T
    return torch.cdist(x, y).square()


def pairwise_dtw(
    xs,
    ys,
    *,
    metric: str = "sqeuclidean",
    step: str = "symmetric1",
    band: int | None = None,
    gamma: float = 0.0,
    normalize: bool = False,
    pairs=None,
    y_lengths=None,
) -> torch.Tensor:
    r"""DTW energies of every (query, template) pair, differentiable w.r.t. every sequence.

    The local costs of all pairs come from one matrix product over the concatenated frames,

    .. math::

        c(i, j) = \max(0,\ \|x_i\|^2 + \|y_j\|^2 - 2 x_i^\top y_j) \quad (\text{sqeuclidean}),
        \qquad c(i, j) = 1 - \frac{x_i^\top y_j}{\|x_i\| \|y_j\|} \quad (\text{cosine}),

    (computed block by block of queries, so that the kernels read them from cache), then the
    recursions of :func:`dtw` run in Numba over all pairs in parallel (``prange``). Numba's
    threads (``numba.set_num_threads``) run between torch's operations, never nested in them,
    so the two thread pools do not multiply; see :mod:`asr.dtw` for ``OMP_WAIT_POLICY``.

    The backward pass of the hard energies follows the best paths only; that of the soft
    energies visits the cells whose occupancy exceeds :math:`10^{-16}` (the others change a
    gradient by a relative :math:`10^{-12}` at most), so both cost far less than the forward
    pass.

    Parameters
    ----------
    xs : list of torch.Tensor
        ``A`` queries ``[N_a, D]`` (utterances), float32 or float64.
    ys : list of torch.Tensor, or torch.Tensor
        ``B`` templates ``[M_b, D]``; or, with ``y_lengths``, their frames back to back in one
        tensor ``[sum_b M_b, D]`` (packed: no per-call splitting and concatenation, which for a
        few hundred templates costs as much as scoring one short utterance).
    metric : {"sqeuclidean", "cosine"}
        Local distance.
    step, band, gamma
        As in :func:`dtw`.
    normalize : bool
        Divide each energy by the step pattern's path weight (:func:`asr.dtw.steps.path_weight`):
        :math:`N + M` for symmetric2 (exact), :math:`N` for asymmetric (exact), :math:`N + M` for
        symmetric1 (an approximation: its paths weigh :math:`\max(N,M)` to :math:`N+M-1`).
    pairs : array_like or torch.Tensor of bool, optional
        ``[A, B]``: only the pairs marked True are aligned (pruning: the work is proportional to
        the pairs kept); the others are ``+inf`` with zero gradient, like infeasible pairs.
    y_lengths : sequence of int, optional
        ``[B]`` lengths :math:`M_b` of the templates when ``ys`` is packed.

    Returns
    -------
    torch.Tensor
        ``[A, B]`` energies (dtype float64 if any input is float64, else float32; the
        recursions run in float64 either way). Pairs with no path (asymmetric,
        ``M_b > 2 N_a - 1``; see :func:`feasible`) or left out by ``pairs`` are ``+inf``
        with zero gradient, never NaN.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> xs = [torch.randn(t, 3, generator=g) for t in (5, 7)]
    >>> ys = [torch.randn(t, 3, generator=g) for t in (4, 6, 12)]
    >>> e = pairwise_dtw(xs, ys, step="asymmetric", normalize=True)
    >>> e.shape, bool(torch.isinf(e[0, 2])), bool(torch.isfinite(e[1, 2]))
    (torch.Size([2, 3]), True, True)
    """
    code = step_code(step)
    radius = check_band(band)
    gamma = check_gamma(gamma)
    check_metric(metric)
    xs = _stack_sequences(xs, "xs")
    if y_lengths is None:
        ys = _stack_sequences(ys, "ys")
        ny = np.array([s.shape[0] for s in ys], dtype=np.int64)
        Y = torch.cat(ys)
    else:
        Y, ny = _packed_sequences(ys, y_lengths, "ys")
    dims = {s.shape[1] for s in xs} | {Y.shape[1]}
    if len(dims) != 1:
        raise DtwInputError(f"xs, ys: all sequences need the same feature dimension, got {dims}")
    dtype = torch.float64 if any(s.dtype == torch.float64 for s in [*xs, Y]) else torch.float32
    X = torch.cat(xs).to(dtype)  # cat promotes float32 to float64 itself when they are mixed
    Y = Y.to(dtype)
    if not (_all_finite(X) and _all_finite(Y)):
        raise DtwInputError("xs, ys: contain NaN or infinite values")
    nx = np.array([s.shape[0] for s in xs], dtype=np.int64)
    A, B = nx.size, ny.size
    offx = np.concatenate(([0], np.cumsum(nx)[:-1]))
    offy = np.concatenate(([0], np.cumsum(ny)[:-1]))
    n = np.repeat(nx, B)
    m = np.tile(ny, A)
    ok = _check_feasible(n, m, code, radius, step)
    if pairs is not None:
        keep = np.asarray(pairs.cpu() if isinstance(pairs, torch.Tensor) else pairs, dtype=bool)
        if keep.shape != (A, B):
            raise DtwInputError(f"pairs: expected shape ({A}, {B}), got {keep.shape}")
        ok = ok & keep.reshape(-1)
    U, V, a, b, s = _cost_factors(X.cpu(), Y.cpu(), metric)
    meta = (np.repeat(offx, B), np.tile(offy, A), n, m, ok, code, radius, gamma, A, B)
    E = _GridDTW.apply(U, V, a, b, s, meta).view(A, B)
    if normalize:
        weight = torch.from_numpy(path_weight(step, n, m).astype(np.float64)).view(A, B)
        E = E / weight.to(E.dtype)
    return E
