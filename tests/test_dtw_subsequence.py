"""Subsequence DTW (asr.dtw.subsequence): brute force on tiny matrices, librosa, blocks."""

import itertools

import librosa
import numpy as np
import pytest

from asr.dtw import SubsequenceMatcher, subsequence_dtw
from asr.dtw.steps import DtwInputError


def _paths(n, m):
    """Every monotone path with steps (1,1), (1,0), (0,1) from some (s, 0) to some (e, m-1)."""
    def extend(path):
        i, j = path[-1]
        if j == m - 1:
            yield path
        for di, dj in ((1, 1), (1, 0), (0, 1)):
            if i + di < n and j + dj < m:
                yield from extend(path + [(i + di, j + dj)])
    for s in range(n):
        yield from extend([(s, 0)])


def _weight(path, diag):
    """Cost weights of the cells of a path: first cell and diagonal steps ``diag``, others 1."""
    w = [diag]
    for (i0, j0), (i1, j1) in itertools.pairwise(path):
        w.append(diag if (i1 - i0, j1 - j0) == (1, 1) else 1.0)
    return np.array(w)


@pytest.mark.parametrize("step,diag", [("symmetric1", 1.0), ("symmetric2", 2.0)])
def test_raw_cost_equals_brute_force(step, diag):
    rng = np.random.default_rng(1)
    for n, m in [(1, 1), (4, 1), (3, 3), (5, 3), (6, 2)]:
        cost = rng.random((n, m))
        best = np.full(n, np.inf)
        best_norm = np.full(n, np.inf)
        for path in _paths(n, m):
            if path[-1][1] != m - 1:
                continue
            w = _weight(path, diag)
            total = sum(wk * cost[c] for wk, c in zip(w, path, strict=True))
            e = path[-1][0]
            best[e] = min(best[e], total)
            best_norm[e] = min(best_norm[e], total / w.sum())
        score, start = subsequence_dtw(cost, step, normalize=False)
        np.testing.assert_allclose(score, best, rtol=1e-12)
        assert (start <= np.arange(n)).all()
        # normalized decisions are greedy: never better than the best normalized path, and the
        # score is the mean cost of a real path (between the smallest and largest local cost)
        norm, _ = subsequence_dtw(cost, step, normalize=True)
        assert (norm >= best_norm - 1e-12).all()
        assert (norm <= cost.max() + 1e-12).all() and (norm >= cost.min() - 1e-12).all()
        if m == 1:  # one template frame: the best normalized match is the frame itself
            np.testing.assert_allclose(norm, np.minimum(cost[:, 0], best_norm), rtol=1e-12)


def _itakura_paths(n, m):
    """Paths with steps (1, 0), (1, 1), (1, 2), never (1, 0) twice in a row, from some (s, 0)
    to some (e, m - 1)."""
    def extend(path, last_zero):
        i, j = path[-1]
        if j == m - 1:
            yield path
        for dj in (0, 1, 2):
            if dj == 0 and last_zero:
                continue
            if i + 1 < n and j + dj < m:
                yield from extend(path + [(i + 1, j + dj)], dj == 0)
    for s in range(n):
        yield from extend([(s, 0)], False)


def test_itakura_equals_brute_force():
    rng = np.random.default_rng(5)
    for n, m in [(1, 1), (3, 1), (4, 3), (6, 4), (7, 5)]:
        cost = rng.random((n, m))
        best = np.full(n, np.inf)
        best_norm = np.full(n, np.inf)
        for path in _itakura_paths(n, m):
            total = sum(cost[c] for c in path)
            e = path[-1][0]
            best[e] = min(best[e], total)
            best_norm[e] = min(best_norm[e], total / len(path))
        score, start = subsequence_dtw(cost, "itakura", normalize=False)
        np.testing.assert_allclose(score, best, rtol=1e-12)
        norm, start = subsequence_dtw(cost, "itakura", normalize=True)
        assert (norm >= best_norm - 1e-12).all()
        finite = np.isfinite(best)
        np.testing.assert_array_equal(np.isfinite(norm), finite)
        # a match spans between m/2 and 2m frames
        span = np.arange(n) - start + 1
        assert (span[finite] >= m / 2).all() and (span[finite] <= 2 * m).all()


def test_matches_librosa_subseq_on_random_inputs():
    rng = np.random.default_rng(2)
    for _ in range(5):
        n, m = rng.integers(5, 40), rng.integers(1, 8)
        cost = rng.random((n, m)) * rng.uniform(0.1, 10)
        score, _ = subsequence_dtw(cost, "symmetric1", normalize=False)
        reference = librosa.sequence.dtw(C=cost.T, subseq=True, backtrack=False)[-1]
        np.testing.assert_allclose(score, reference, rtol=1e-10)


@pytest.mark.parametrize("step", ["symmetric2", "itakura"])
def test_planted_template_is_found_with_its_start(step):
    rng = np.random.default_rng(3)
    template = rng.normal(size=(6, 4))
    stream = rng.normal(size=(40, 4)) * 3
    stream[20:26] = template  # planted at frames 20..25
    cost = ((stream[:, None, :] - template[None]) ** 2).sum(-1)
    score, start = subsequence_dtw(cost, step, normalize=True)
    assert int(np.argmin(score)) == 25 and int(start[25]) == 20 and score[25] == 0.0


@pytest.mark.parametrize("step", ["symmetric2", "itakura"])
def test_blocks_give_the_same_numbers_as_one_call(step):
    rng = np.random.default_rng(4)
    lengths = [3, 5, 1]
    cost = rng.random((50, sum(lengths)))
    whole = SubsequenceMatcher(lengths, step).push(cost)
    matcher, parts, edges = SubsequenceMatcher(lengths, step), [], [0, 1, 7, 7, 20, 33, 50]
    for a, b in itertools.pairwise(edges):
        parts.append(matcher.push(cost[a:b]))
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), whole[1])


@pytest.mark.parametrize("step", ["symmetric2", "itakura"])
def test_earliest_start_bounds_every_later_match(step):
    """No match reported after a push starts before the ``earliest_start`` of that moment, and
    the bound moves on with the stream (so a spotter may forget what lies before it)."""
    rng = np.random.default_rng(5)
    lengths = [3, 6, 2]
    matcher, bounds = SubsequenceMatcher(lengths, step), []
    for _ in range(40):
        _, start = matcher.push(rng.random((5, sum(lengths))))
        for bound in bounds:
            assert start.min() >= bound
        bounds.append(matcher.earliest_start())
    assert bounds[-1] > 150 and bounds == sorted(bounds)


def test_bad_input():
    with pytest.raises(DtwInputError, match="at least one template"):
        SubsequenceMatcher([])
    with pytest.raises(DtwInputError, match="step"):
        SubsequenceMatcher([2], step="asymmetric")
    with pytest.raises(DtwInputError, match=r"cost must be \[N, 2\]"):
        SubsequenceMatcher([2]).push(np.zeros((3, 3)))
    with pytest.raises(DtwInputError, match="NaN"):
        subsequence_dtw(np.full((2, 2), np.nan))
