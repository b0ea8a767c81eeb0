"""DTW engine: brute force over every path, librosa, planted paths, gradients, padding, errors."""

from __future__ import annotations

import itertools
import math

import librosa
import numpy as np
import pytest
import torch

import asr.dtw.api
from asr.dtw import (
    STEP_PATTERNS,
    DtwInputError,
    band_mask,
    dtw,
    dtw_energy,
    feasible,
    pairwise_dtw,
    path_weight,
)
from asr.errors import AsrError

MOVES = {
    "symmetric1": ((1, 1), (1, 0), (0, 1)),
    "symmetric2": ((1, 1), (1, 0), (0, 1)),
    "asymmetric": ((1, 0), (1, 1), (1, 2)),
}


def all_paths(n, m, step, band=None):
    """Every monotone path of the step pattern inside the band, as lists of (i, j, weight)."""
    mask = band_mask(n, m, band)
    out = []

    def walk(path):
        i, j, _ = path[-1]
        if (i, j) == (n - 1, m - 1):
            out.append(list(path))
            return
        for di, dj in MOVES[step]:
            a, b = i + di, j + dj
            if a < n and b < m and mask[a, b]:
                w = 2.0 if step == "symmetric2" and (di, dj) == (1, 1) else 1.0
                path.append((a, b, w))
                walk(path)
                path.pop()

    if mask[0, 0]:
        walk([(0, 0, 2.0 if step == "symmetric2" else 1.0)])
    return out


def brute_force(cost, step, band=None, gamma=0.0):
    """(min energy, soft energy, occupancy) by enumerating every path."""
    paths = all_paths(*cost.shape, step, band)
    energies = np.array([sum(w * cost[i, j] for i, j, w in p) for p in paths])
    hard = energies.min()
    if gamma == 0:
        return hard, None, None
    logits = -energies / gamma
    lse = logits.max() + np.log(np.exp(logits - logits.max()).sum())
    post = np.exp(logits - lse)
    occ = np.zeros_like(cost)
    for p, q in zip(paths, post, strict=True):
        for i, j, w in p:
            occ[i, j] += q * w
    return hard, -gamma * lse, occ


def path_energy(cost, path, step):
    """Energy of a returned path, checking that its moves are legal for the step pattern."""
    assert tuple(path[0]) == (0, 0)
    assert tuple(path[-1]) == (cost.shape[0] - 1, cost.shape[1] - 1)
    total = cost[0, 0] * (2.0 if step == "symmetric2" else 1.0)
    for (i0, j0), (i1, j1) in itertools.pairwise(path):
        move = (i1 - i0, j1 - j0)
        assert move in MOVES[step]
        total += cost[i1, j1] * (2.0 if step == "symmetric2" and move == (1, 1) else 1.0)
    return total


SHAPES = [(1, 1), (1, 4), (4, 1), (3, 3), (4, 5), (5, 3), (5, 5), (6, 4), (3, 5)]


@pytest.mark.parametrize("step", STEP_PATTERNS)
@pytest.mark.parametrize("band", [None, 1, 2])
def test_hard_matches_brute_force(step, band):
    rng = np.random.default_rng(0)
    checked = 0
    for n, m in SHAPES:
        if not feasible(n, m, step=step, band=band):
            continue
        cost = rng.random((n, m))
        best, _, _ = brute_force(cost, step, band)
        a = dtw(cost, step=step, band=band)
        assert a.cost == pytest.approx(best, abs=1e-12)
        assert path_energy(cost, a.path, step) == pytest.approx(best, abs=1e-12)
        assert band_mask(n, m, band)[a.path[:, 0], a.path[:, 1]].all()
        checked += 1
    assert checked >= 5


@pytest.fixture(params=["normalized", "log"])
def soft_domain(request, monkeypatch):
    """Run soft DTW in the normalized probability domain (default) or force the log domain."""
    if request.param == "log":
        monkeypatch.setattr(asr.dtw.api, "_NORM_LIMIT", 0)
    return request.param


@pytest.mark.parametrize("step", STEP_PATTERNS)
@pytest.mark.parametrize("gamma", [0.05, 0.5, 3.0])
def test_soft_value_and_occupancy_match_brute_force(step, gamma, soft_domain):
    rng = np.random.default_rng(1)
    for (n, m), band in itertools.product([(1, 3), (3, 1), (4, 4), (5, 3), (4, 6)], [None, 1]):
        if not feasible(n, m, step=step, band=band):
            continue
        cost = 3.0 * rng.random((n, m))
        _, soft, occ = brute_force(cost, step, band, gamma)
        a = dtw(cost, step=step, band=band, gamma=gamma)
        assert a.cost == pytest.approx(soft, abs=1e-10)
        np.testing.assert_allclose(a.occupancy, occ, atol=1e-10)


def test_soft_survives_large_cost_over_gamma(soft_domain):
    # costs / gamma ~ 1e4: the log-space recursion must not under- or overflow
    rng = np.random.default_rng(2)
    for step in STEP_PATTERNS:
        cost = 100.0 * rng.random((5, 4))
        _, soft, occ = brute_force(cost, step, None, 0.01)
        a = dtw(cost, step=step, gamma=0.01)
        assert a.cost == pytest.approx(soft, rel=1e-12)
        np.testing.assert_allclose(a.occupancy, occ, atol=1e-9)


def test_soft_symmetric1_matches_tslearn_on_long_sequences():
    # 300 + 260 frames: beyond the normalized domain's limit, so this runs in the log domain;
    # the 120 + 100 pair runs in the normalized domain with a pruned trellis
    tslearn_metrics = pytest.importorskip("tslearn.metrics")
    rng = np.random.default_rng(14)
    for (n, m), gamma in [((300, 260), 1.0), ((120, 100), 0.1), ((120, 100), 30.0)]:
        x, y = rng.standard_normal((n, 3)), rng.standard_normal((m, 3))
        ref = tslearn_metrics.soft_dtw(x, y, gamma=gamma)
        got = pairwise_dtw([torch.from_numpy(x)], [torch.from_numpy(y)], gamma=gamma).item()
        assert got == pytest.approx(ref, rel=1e-9)


def test_symmetric1_matches_librosa():
    rng = np.random.default_rng(3)
    for n, m in [(1, 7), (7, 1), (10, 10), (17, 9), (23, 40)]:
        cost = rng.random((n, m))
        D, wp = librosa.sequence.dtw(C=cost, backtrack=True)
        a = dtw(cost)
        assert a.cost == pytest.approx(D[-1, -1], rel=1e-12)
        assert path_energy(cost, a.path, "symmetric1") == pytest.approx(
            cost[wp[:, 0], wp[:, 1]].sum(), rel=1e-12
        )


@pytest.mark.parametrize("step", STEP_PATTERNS)
def test_planted_path_is_found_exactly(step):
    rng = np.random.default_rng(4)
    n, m = 40, 30
    moves = MOVES[step]
    if step == "asymmetric":
        k2 = 10
        counts = [n - 1 - (m - 1 - 2 * k2) - k2, m - 1 - 2 * k2, k2]
        seq = [mv for mv, k in zip(moves, counts, strict=True) for _ in range(k)]
        rng.shuffle(seq)
    else:
        # no vertical move next to a horizontal one: a diagonal would cut that corner cheaper
        k_diag = 20
        slots = rng.permutation([1] * 6 + [2] * 6 + [0] * (k_diag + 1 - 12))
        runs = [[] for _ in slots]
        for kind, total in ((1, n - 1 - k_diag), (2, m - 1 - k_diag)):
            idx = np.flatnonzero(slots == kind)
            for s in rng.choice(idx, size=total):
                runs[s].append(moves[kind])
        seq = []
        for k, run in enumerate(runs):
            seq += run + ([moves[0]] if k < k_diag else [])
    planted = [(0, 0)]
    for di, dj in seq:
        planted.append((planted[-1][0] + di, planted[-1][1] + dj))
    assert planted[-1] == (n - 1, m - 1)
    cost = 1.0 + rng.random((n, m))
    for i, j in planted:
        cost[i, j] = 1e-3 * rng.random()
    a = dtw(cost, step=step)
    assert [tuple(c) for c in a.path] == planted
    soft = dtw(cost, step=step, gamma=0.01)
    occupied = np.zeros((n, m), dtype=bool)
    occupied[tuple(np.array(planted).T)] = True
    assert soft.occupancy[~occupied].max() < 1e-10


def _padded(rng, shapes, fill=np.nan, dtype=torch.float64):
    N = max(s[0] for s in shapes)
    M = max(s[1] for s in shapes)
    cost = torch.full((len(shapes), N, M), fill, dtype=dtype)
    for p, (n, m) in enumerate(shapes):
        cost[p, :n, :m] = torch.from_numpy(3.0 * rng.random((n, m)))
    n = torch.tensor([s[0] for s in shapes])
    m = torch.tensor([s[1] for s in shapes])
    return cost, n, m


SHAPES_BATCH = [(5, 4), (3, 3), (1, 2), (6, 6), (4, 2), (2, 1)]


@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_pairwise_packed_templates_match_the_list(gamma):
    g = torch.Generator().manual_seed(11)
    xs = [torch.randn(t, 3, generator=g, dtype=torch.float64, requires_grad=True)
          for t in (6, 4)]
    lengths = [5, 2, 7]
    frames = torch.randn(sum(lengths), 3, generator=g, dtype=torch.float64, requires_grad=True)
    listed = pairwise_dtw(xs, list(torch.split(frames, lengths)), step="symmetric2",
                          gamma=gamma, normalize=True)
    packed = pairwise_dtw(xs, frames, y_lengths=lengths, step="symmetric2", gamma=gamma,
                          normalize=True)
    assert torch.equal(listed, packed)
    weights = torch.randn(2, 3, generator=g, dtype=torch.float64)
    expected = torch.autograd.grad((listed * weights).sum(), [*xs, frames])
    got = torch.autograd.grad((packed * weights).sum(), [*xs, frames])
    for a, b in zip(expected, got, strict=True):
        assert torch.equal(a, b)
    for bad in ([5, 2, 6], [5, 0, 9], []):
        with pytest.raises(DtwInputError, match="ys: lengths"):
            pairwise_dtw(xs, frames, y_lengths=bad)
    with pytest.raises(DtwInputError, match="packed"):
        pairwise_dtw(xs, list(torch.split(frames, lengths)), y_lengths=lengths)


@pytest.mark.parametrize("step", STEP_PATTERNS)
@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_padded_batch_equals_unpadded_singles(step, gamma):
    rng = np.random.default_rng(5)
    cost, n, m = _padded(rng, SHAPES_BATCH)
    before = cost.clone()
    cost.requires_grad_(True)
    e = dtw_energy(cost, n, m, step=step, gamma=gamma, band=None)
    weights = torch.arange(1.0, len(SHAPES_BATCH) + 1, dtype=torch.float64)
    finite = torch.isfinite(e)
    (e[finite] * weights[finite]).sum().backward()
    assert torch.equal(torch.isnan(cost.detach()), torch.isnan(before))  # not modified in place
    assert torch.equal(cost.detach().nan_to_num(), before.nan_to_num())
    for p, (ni, mi) in enumerate(SHAPES_BATCH):
        single = cost.detach()[p, :ni, :mi].clone().requires_grad_(True)
        g = cost.grad[p]
        assert g[ni:].abs().sum() == 0 and g[:, mi:].abs().sum() == 0
        if not feasible(ni, mi, step=step):
            assert torch.isinf(e[p]) and e[p] > 0 and g.abs().sum() == 0
            continue
        es = dtw_energy(single[None], [ni], [mi], step=step, gamma=gamma)
        (es * weights[p]).sum().backward()
        assert e[p].item() == pytest.approx(es.item(), abs=1e-12)
        torch.testing.assert_close(g[:ni, :mi], single.grad, atol=1e-12, rtol=0)
        a = dtw(single.detach().numpy(), step=step, gamma=gamma)
        assert e[p].item() == pytest.approx(a.cost, abs=1e-12)


@pytest.mark.parametrize("step", STEP_PATTERNS)
def test_hard_gradient_is_weighted_path_indicator(step):
    rng = np.random.default_rng(6)
    cost, n, m = _padded(rng, [(7, 5), (6, 6), (9, 8)], fill=0.0)
    cost.requires_grad_(True)
    dtw_energy(cost, n, m, step=step).sum().backward()
    for p in range(3):
        c = cost.detach()[p, : n[p], : m[p]].numpy()
        a = dtw(c, step=step)
        expected = np.zeros_like(c)
        for k, (i, j) in enumerate(a.path):
            diag = k > 0 and tuple(a.path[k] - a.path[k - 1]) == (1, 1)
            expected[i, j] = 2.0 if step == "symmetric2" and (k == 0 or diag) else 1.0
        np.testing.assert_array_equal(cost.grad[p, : n[p], : m[p]].numpy(), expected)
        assert (expected * c).sum() == pytest.approx(a.cost, abs=1e-12)


@pytest.mark.parametrize("step", STEP_PATTERNS)
def test_gradcheck_soft(step):
    rng = np.random.default_rng(7)
    cost, n, m = _padded(rng, [(4, 3), (3, 3), (5, 2), (1, 1)], fill=0.0)
    cost.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda c: dtw_energy(c, n, m, step=step, gamma=0.7), (cost,), eps=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("step", STEP_PATTERNS)
@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_gradcheck_pairwise(step, metric):
    g = torch.Generator().manual_seed(8)
    xs = [torch.randn(t, 3, generator=g, dtype=torch.float64, requires_grad=True) for t in (4, 5)]
    ys = [torch.randn(t, 3, generator=g, dtype=torch.float64, requires_grad=True) for t in (3, 5)]

    def f(*seqs):
        return pairwise_dtw(seqs[:2], seqs[2:], metric=metric, step=step, gamma=0.5, normalize=True)

    assert torch.autograd.gradcheck(f, (*xs, *ys), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("step", STEP_PATTERNS)
def test_gamma_to_zero_converges_to_hard(step):
    rng = np.random.default_rng(9)
    cost = rng.random((12, 9))
    hard = dtw(cost, step=step)
    indicator = np.zeros_like(cost)
    indicator[hard.path[:, 0], hard.path[:, 1]] = 1.0
    gaps = []
    for gamma in [1.0, 0.1, 0.01, 0.001]:
        soft = dtw(cost, step=step, gamma=gamma)
        # soft-min over at most 3^(N+M) paths: hard - gamma (N+M) log 3 <= soft <= hard
        assert hard.cost - gamma * 21 * math.log(3) - 1e-12 <= soft.cost <= hard.cost + 1e-12
        gaps.append(hard.cost - soft.cost)
    assert gaps[-1] < 1e-2 and gaps == sorted(gaps, reverse=True)
    occ = dtw(cost, step=step, gamma=1e-4).occupancy
    np.testing.assert_allclose(occ > 0.5, indicator > 0)


def test_pairwise_matches_explicit_cost_matrices_and_normalizes():
    g = torch.Generator().manual_seed(10)
    xs = [torch.randn(t, 4, generator=g, dtype=torch.float64) for t in (6, 9, 3)]
    ys = [torch.randn(t, 4, generator=g, dtype=torch.float64) for t in (5, 4, 8, 6)]
    for step, gamma in itertools.product(STEP_PATTERNS, [0.0, 0.2]):
        e = pairwise_dtw(xs, ys, step=step, gamma=gamma)
        en = pairwise_dtw(xs, ys, step=step, gamma=gamma, normalize=True)
        for a, x in enumerate(xs):
            for b, y in enumerate(ys):
                c = torch.cdist(x, y) ** 2
                if not feasible(len(x), len(y), step=step):
                    assert torch.isinf(e[a, b]) and torch.isinf(en[a, b])
                    continue
                ref = dtw(c.numpy(), step=step, gamma=gamma).cost
                assert e[a, b].item() == pytest.approx(ref, rel=1e-9, abs=1e-9)
                w = path_weight(step, len(x), len(y))
                assert en[a, b].item() == pytest.approx(ref / w, rel=1e-9, abs=1e-9)
    e32 = pairwise_dtw([x.float() for x in xs], [y.float() for y in ys], gamma=0.2)
    assert e32.dtype == torch.float32
    torch.testing.assert_close(e32.double(), pairwise_dtw(xs, ys, gamma=0.2), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("step", STEP_PATTERNS)
@pytest.mark.parametrize("gamma", [0.0, 0.3])
def test_pairwise_gradients_match_explicit_cost_route(step, gamma, soft_domain):
    # pairwise_dtw's own backward (sparse paths / occupancy spans) against torch autograd
    # through explicit squared distances and dtw_energy's dense backward
    g = torch.Generator().manual_seed(15)
    xs = [
        torch.randn(t, 5, generator=g, dtype=torch.float64, requires_grad=True)
        for t in (30, 41, 17)
    ]
    ys = [
        torch.randn(t, 5, generator=g, dtype=torch.float64, requires_grad=True)
        for t in (22, 33, 9, 30)
    ]
    w = torch.rand(len(xs), len(ys), generator=g, dtype=torch.float64)
    e = pairwise_dtw(xs, ys, step=step, gamma=gamma)
    ok = torch.isfinite(e)
    grads = torch.autograd.grad((torch.where(ok, e, 0.0) * w).sum(), xs + ys)
    N, M = max(len(x) for x in xs), max(len(y) for y in ys)
    cost = torch.zeros(len(xs) * len(ys), N, M, dtype=torch.float64)
    costs = [[((x[:, None] - y[None]) ** 2).sum(-1) for y in ys] for x in xs]
    for a, row in enumerate(costs):
        for b, c in enumerate(row):
            cost[a * len(ys) + b, : c.shape[0], : c.shape[1]] = c
    n = torch.tensor([len(x) for x in xs]).repeat_interleave(len(ys))
    m = torch.tensor([len(y) for y in ys]).repeat(len(xs))
    ref = dtw_energy(cost, n, m, step=step, gamma=gamma).view(len(xs), len(ys))
    torch.testing.assert_close(e, ref, rtol=1e-9, atol=1e-9)
    ref_grads = torch.autograd.grad((torch.where(ok, ref, 0.0) * w).sum(), xs + ys)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-7, atol=1e-9)


def test_infeasible_asymmetric_pairs_give_inf_and_finite_gradients():
    g = torch.Generator().manual_seed(11)
    xs = [torch.randn(t, 3, generator=g, requires_grad=True) for t in (20, 8)]
    ys = [torch.randn(t, 3, generator=g, requires_grad=True) for t in (10, 30, 15)]
    for gamma in [0.0, 1.0]:
        e = pairwise_dtw(xs, ys, step="asymmetric", gamma=gamma, normalize=True)
        ok = torch.from_numpy(feasible([[20], [8]], [[10, 30, 15]], step="asymmetric"))
        assert torch.equal(torch.isfinite(e), ok)
        assert torch.isinf(e[1, 1]) and e[1, 1] > 0 and not torch.isnan(e).any()
        # a recognizer-style loss: soft-min over templates, cross-entropy on the true template
        loss = torch.nn.functional.cross_entropy(-e, torch.tensor([0, 0]))
        grads = torch.autograd.grad(loss, xs + ys, retain_graph=True)
        assert all(torch.isfinite(gr).all() for gr in grads)
        # even a loss that touches the +inf energies directly yields no NaN gradient
        grads = torch.autograd.grad(e.sum(), xs + ys)
        assert all(torch.isfinite(gr).all() for gr in grads)


def test_float32_energy_and_gradient_dtype():
    rng = np.random.default_rng(12)
    cost, n, m = _padded(rng, [(5, 4), (3, 6)], fill=0.0, dtype=torch.float32)
    cost.requires_grad_(True)
    e = dtw_energy(cost, n, m, gamma=0.5)
    e.sum().backward()
    assert e.dtype == torch.float32 and cost.grad.dtype == torch.float32
    ref = dtw_energy(cost.detach().double(), n, m, gamma=0.5)
    torch.testing.assert_close(e.double(), ref, rtol=1e-6, atol=1e-6)


def test_band_restricts_paths_and_rejects_infeasible_band():
    rng = np.random.default_rng(13)
    cost = rng.random((10, 10))
    cost[np.arange(10), np.arange(10)] = 5.0  # the diagonal is expensive
    wide = dtw(cost)
    narrow = dtw(cost, band=0)
    assert (narrow.path[:, 0] == narrow.path[:, 1]).all()
    assert narrow.cost == pytest.approx(np.trace(cost)) and wide.cost < narrow.cost
    with pytest.raises(ValueError, match="band"):
        dtw(rng.random((10, 25)), band=0)
    with pytest.raises(ValueError, match="band"):
        dtw_energy(torch.rand(1, 10, 25), [10], [25], band=0)
    with pytest.raises(ValueError, match="band"):
        pairwise_dtw([torch.randn(10, 2)], [torch.randn(25, 2)], band=0)
    assert feasible(10, 25, band=2) and not feasible(10, 25, band=0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dtw(np.zeros(3)), "dimensions"),
        (lambda: dtw(np.zeros((2, 0))), "empty"),
        (lambda: dtw(np.array([[0.0, np.nan]])), "NaN"),
        (lambda: dtw(np.ones((2, 2)), step="diagonal"), "step"),
        (lambda: dtw(np.ones((2, 2)), gamma=-1.0), "gamma"),
        (lambda: dtw(np.ones((2, 2)), gamma=float("nan")), "gamma"),
        (lambda: dtw(np.ones((2, 2)), band=-2), "band"),
        (lambda: dtw(np.ones((2, 2)), band=1.5), "band"),
        (lambda: dtw(np.ones((2, 7)), step="asymmetric"), "2N - 1"),
        (lambda: dtw_energy(torch.zeros(2, 3), [2, 2], [3, 3]), "dimensions"),
        (lambda: dtw_energy(torch.zeros(2, 3, 3), [2], [3, 3]), "shape"),
        (lambda: dtw_energy(torch.zeros(2, 3, 3), [2, 4], [3, 3]), "lengths"),
        (lambda: dtw_energy(torch.zeros(2, 3, 3), [2, 0], [3, 3]), "lengths"),
        (lambda: dtw_energy(torch.zeros(2, 3, 3), [2, 2], [3.0, 3.0]), "integer"),
        (lambda: dtw_energy(torch.zeros(2, 3, 3, dtype=torch.int64), [2, 2], [3, 3]), "float"),
        (lambda: dtw_energy(torch.full((1, 3, 3), float("nan")), [2], [2]), "NaN"),
        (lambda: dtw_energy(torch.zeros(1, 3, 3), [2], [2], gamma=-0.1), "gamma"),
        (lambda: pairwise_dtw([], [torch.zeros(2, 2)]), "non-empty"),
        (lambda: pairwise_dtw([torch.zeros(2, 2)], [torch.zeros(2, 3)]), "dimension"),
        (lambda: pairwise_dtw([torch.zeros(0, 2)], [torch.zeros(2, 2)]), "shape"),
        (lambda: pairwise_dtw([torch.zeros(2)], [torch.zeros(2, 2)]), "shape"),
        (lambda: pairwise_dtw([torch.zeros(2, 2)], [torch.zeros(2, 2)], metric="l1"), "metric"),
        (lambda: pairwise_dtw([torch.full((2, 2), float("inf"))], [torch.zeros(2, 2)]), "NaN"),
    ],
)
def test_bad_input_raises_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert isinstance(info.value, AsrError) and isinstance(info.value, DtwInputError)
    assert "\n" not in str(info.value)


def test_the_finiteness_check_accepts_huge_finite_values_and_finds_one_nan():
    """The check sums each input in float32 first: an overflowing sum of finite values must fall
    back to the element-wise test, and one NaN among many frames must still be found."""
    huge = torch.full((2, 2), 2e38)  # finite in float32, the sum of four is not
    assert torch.isinf(huge.sum())
    assert pairwise_dtw([huge], [huge]).shape == (1, 1)  # accepted: no "NaN" error
    frames = torch.zeros(5000, 8)
    frames[4321, 5] = float("nan")
    with pytest.raises(DtwInputError, match="NaN"):
        pairwise_dtw([torch.zeros(3, 8)], [frames])


def test_normalized_soft_energy_is_a_soft_min_at_temperature_gamma_over_z():
    """What model.gamma means: with normalize=True the soft-min over paths acts on the
    normalized path energies e_z = E_z / Z at temperature gamma / Z (Z = N + M for symmetric2):
    E = -(gamma / Z) log sum_z exp(-e_z / (gamma / Z)) = (1 / Z) * softmin_gamma(E_z)."""
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.normal(size=(4, 2)))
    y = torch.from_numpy(rng.normal(size=(5, 2)))
    gamma = 0.7
    got = float(pairwise_dtw([x], [y], step="symmetric2", gamma=gamma, normalize=True))
    cost = torch.cdist(x, y).square().numpy()
    z = 4 + 5
    normalized = np.array([sum(w * cost[i, j] for i, j, w in p) / z
                           for p in all_paths(4, 5, "symmetric2")])
    t = gamma / z
    expected = -t * np.log(np.exp(-normalized / t).sum())
    assert got == pytest.approx(expected, rel=1e-9)
    # ... which is not the soft-min of the normalized energies at temperature gamma
    assert got != pytest.approx(-gamma * np.log(np.exp(-normalized / gamma).sum()), rel=1e-3)
