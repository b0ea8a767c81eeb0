r"""Private Numba kernel of subsequence DTW over a stream (no validation: see
:mod:`asr.dtw.subsequence`).

The trellis of every template advances one stream row at a time; the caller keeps the last row
(accumulated cost ``D``, path weight ``L`` and start row ``S`` of each template cell) between
calls, so that a stream processed in blocks of any size gives exactly the same numbers as in
one call. Cell :math:`(i, j)`: stream frame ``i`` against template frame ``j``.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def subsequence_rows(cost, offsets, row0, diag_weight, normalize, D, L, S, out_score,
                     out_start):
    """Advance every template's trellis over the rows of ``cost``.

    Parameters
    ----------
    cost : float64 [N, sum(M_k)]
        Local costs of N new stream frames against the frames of all templates, template ``k``
        in columns ``offsets[k]..offsets[k+1]``.
    offsets : int64 [K + 1]
    row0 : int
        Stream index of the first row.
    diag_weight : float
        Weight of a diagonal step (1: symmetric1, 2: symmetric2); other steps weigh 1, the
        first cell of a path ``diag_weight``.
    normalize : bool
        Choose predecessors by length-normalized cost ``(D + w c) / (L + w)`` instead of
        ``D + w c``.
    D, L : float64 [sum(M_k)]
        Last row's accumulated cost and path weight (``inf`` / 0 before the first row);
        updated in place.
    S : int64 [sum(M_k)]
        Stream row where the path of each last-row cell starts; updated in place.
    out_score : float64 [N, K]
        Per row and template: cost of the best path ending at the template's last frame
        (divided by its weight when ``normalize``).
    out_start : int64 [N, K]
        Start row of that path.
    """
    n = cost.shape[0]
    k_count = offsets.shape[0] - 1
    for r in range(n):
        i = row0 + r
        for k in range(k_count):
            a = offsets[k]
            b = offsets[k + 1]
            # cell (i, 0): a fresh start, or the vertical step from (i-1, 0)
            c = cost[r, a]
            best_d = diag_weight * c
            best_l = diag_weight
            best_s = i
            cand_d = D[a] + c
            cand_l = L[a] + 1.0
            if normalize:
                if cand_d / cand_l < best_d / best_l:
                    best_d, best_l, best_s = cand_d, cand_l, S[a]
            elif cand_d < best_d:
                best_d, best_l, best_s = cand_d, cand_l, S[a]
            # the previous row's cell (i-1, j-1) is overwritten as we go: keep it
            prev_d, prev_l, prev_s = D[a], L[a], S[a]
            D[a], L[a], S[a] = best_d, best_l, best_s
            for col in range(a + 1, b):
                c = cost[r, col]
                # diagonal from (i-1, j-1)
                best_d = prev_d + diag_weight * c
                best_l = prev_l + diag_weight
                best_s = prev_s
                # vertical from (i-1, j)
                cand_d = D[col] + c
                cand_l = L[col] + 1.0
                if normalize:
                    take = cand_d / cand_l < best_d / best_l
                else:
                    take = cand_d < best_d
                if take:
                    best_d, best_l, best_s = cand_d, cand_l, S[col]
                # horizontal from (i, j-1)
                cand_d = D[col - 1] + c
                cand_l = L[col - 1] + 1.0
                if normalize:
                    take = cand_d / cand_l < best_d / best_l
                else:
                    take = cand_d < best_d
                if take:
                    best_d, best_l, best_s = cand_d, cand_l, S[col - 1]
                prev_d, prev_l, prev_s = D[col], L[col], S[col]
                D[col], L[col], S[col] = best_d, best_l, best_s
            last = b - 1
            out_score[r, k] = D[last] / L[last] if normalize else D[last]
            out_start[r, k] = S[last]


def new_state(total: int):
    """Empty trellis rows for templates of ``total`` frames in all: ``(D, L, S)``."""
    return (np.full(total, np.inf), np.zeros(total), np.zeros(total, dtype=np.int64))


@njit(cache=True, nogil=True, error_model="numpy")
def itakura_rows(cost, offsets, row0, normalize, D, L, S, out_score, out_start):
    """As :func:`subsequence_rows` for the Itakura pattern: every step advances the stream by
    one frame and the template by 0, 1 or 2 frames, never by 0 twice in a row, each cell
    weighing 1. ``D, L, S`` are [2, sum(M_k)]: row 0 for cells entered by a 0-step, row 1 for
    the others (and fresh starts)."""
    n = cost.shape[0]
    k_count = offsets.shape[0] - 1
    inf = np.inf
    for r in range(n):
        i = row0 + r
        for k in range(k_count):
            a = offsets[k]
            b = offsets[k + 1]
            # previous row's values at j-1 and j-2 (best of both states), kept before overwrite
            p1_d, p1_l, p1_s = inf, 0.0, 0
            p2_d, p2_l, p2_s = inf, 0.0, 0
            for col in range(a, b):
                c = cost[r, col]
                # best of the previous row at this column (both states), for the next columns
                if normalize:
                    use0 = D[0, col] / L[0, col] < D[1, col] / L[1, col]
                else:
                    use0 = D[0, col] < D[1, col]
                if use0:
                    here_d, here_l, here_s = D[0, col], L[0, col], S[0, col]
                else:
                    here_d, here_l, here_s = D[1, col], L[1, col], S[1, col]
                # 0-step from (i-1, j), allowed only after a non-zero step
                z_d, z_l, z_s = D[1, col] + c, L[1, col] + 1.0, S[1, col]
                # 1-step from (i-1, j-1), 2-step from (i-1, j-2)
                m_d, m_l, m_s = p1_d + c, p1_l + 1.0, p1_s
                if normalize:
                    take = (p2_d + c) / (p2_l + 1.0) < m_d / m_l
                else:
                    take = p2_d + c < m_d
                if take:
                    m_d, m_l, m_s = p2_d + c, p2_l + 1.0, p2_s
                if col == a:  # a fresh start at (i, 0)
                    if normalize:
                        take = c < m_d / m_l
                    else:
                        take = c < m_d
                    if take:
                        m_d, m_l, m_s = c, 1.0, i
                p2_d, p2_l, p2_s = p1_d, p1_l, p1_s
                p1_d, p1_l, p1_s = here_d, here_l, here_s
                D[0, col], L[0, col], S[0, col] = z_d, z_l, z_s
                D[1, col], L[1, col], S[1, col] = m_d, m_l, m_s
            last = b - 1
            if normalize:
                use0 = D[0, last] / L[0, last] < D[1, last] / L[1, last]
            else:
                use0 = D[0, last] < D[1, last]
            s = 0 if use0 else 1
            out_score[r, k] = D[s, last] / L[s, last] if normalize else D[s, last]
            out_start[r, k] = S[s, last]


def new_itakura_state(total: int):
    """Empty two-state trellis rows for the Itakura pattern: ``(D, L, S)``."""
    return (np.full((2, total), np.inf), np.zeros((2, total)),
            np.zeros((2, total), dtype=np.int64))
