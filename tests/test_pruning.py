"""Competitor pruning: pruned pairs cost nothing and change nothing else; the word masks keep the
true word and the lowest stored energies; pruned training runs and resumes bit-for-bit."""

import json

import pytest
import torch
from test_model import random_recognizer
from test_train import assert_same_training, config, kill_and_resume, last_state, make_data

from asr.dtw import pairwise_dtw
from asr.train import train
from asr.training.pruning import CompetitorPruner


@pytest.mark.parametrize("block_bytes", [None, 64])
def test_pairwise_dtw_pairs_mask_leaves_kept_pairs_exact(block_bytes, monkeypatch):
    if block_bytes is not None:  # one query per block: each block's products skip templates
        monkeypatch.setattr("asr.dtw.api._BLOCK_BYTES", block_bytes)
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(t, 4, generator=g, dtype=torch.float64, requires_grad=True)
          for t in (5, 7, 6)]
    ys = [torch.randn(t, 4, generator=g, dtype=torch.float64, requires_grad=True)
          for t in (4, 6, 5, 8)]
    keep = torch.rand(3, 4, generator=g) < 0.5
    keep[0, 0] = True
    keep[:, 1] = False           # a template no query is aligned with
    keep[:, 3] = torch.tensor([False, True, False])
    for gamma in (0.0, 0.5):
        full = pairwise_dtw(xs, ys, step="symmetric2", gamma=gamma, normalize=True)
        part = pairwise_dtw(xs, ys, step="symmetric2", gamma=gamma, normalize=True, pairs=keep)
        assert torch.allclose(part[keep], full[keep], atol=0, rtol=1e-12)
        assert torch.isinf(part[~keep]).all()
        weights = torch.randn(3, 4, generator=g, dtype=torch.float64)
        grads_full = torch.autograd.grad((full[keep] * weights[keep]).sum(), xs + ys)
        grads_part = torch.autograd.grad(
            torch.where(keep, part * weights, torch.zeros(())).sum(), xs + ys)
        for a, b in zip(grads_full, grads_part, strict=True):
            assert torch.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("template_gamma", [None, 2.0])
def test_recognizer_word_mask_matches_the_full_energies(template_gamma):
    rec = random_recognizer(k=2, gamma=0.0, template_gamma=template_gamma)
    feats = [torch.randn(t, 3) for t in (6, 4, 5)]
    words = torch.tensor([[True, False, True], [False, True, False], [True, True, True]])
    full = rec(feats)
    part = rec(feats, words=words)
    assert torch.allclose(part[words], full[words])
    assert torch.isinf(part[~words]).all()
    stored = torch.full_like(full, 7.0)
    loss = torch.where(words, part, stored).logsumexp(dim=1).sum()
    loss.backward()
    grad = rec.template_frames.grad
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # templates of word 1 are only used by utterance 1: same gradient as the full loss there
    rec.zero_grad()
    torch.where(words, full, stored).logsumexp(dim=1).sum().backward()
    assert torch.allclose(grad, rec.template_frames.grad, atol=1e-6)


def test_pruner_keeps_the_true_word_and_the_nearest_competitors():
    p = CompetitorPruner(3, 6, keep=2, full_every=3)
    index, labels = torch.tensor([0, 1, 2]), torch.tensor([5, 0, 2])
    assert [p.full_epoch(e) for e in range(1, 8)] == [True, False, False, True, False, False,
                                                        True]
    assert p.words(index, labels, epoch=2) is None  # nothing stored yet: a full batch
    stored = torch.tensor([[9.0, 1.0, 3.0, 2.0, 8.0, 7.0],   # true word 5 is not the lowest
                           [0.0, 5.0, 4.0, 6.0, 1.0, 2.0],
                           [3.0, 3.5, 0.5, 9.0, 9.0, 0.1]])
    energies = p.fill(index, stored.clone().requires_grad_(), None)
    assert torch.equal(p.last, stored) and energies.requires_grad
    mask = p.words(index, labels, epoch=2)
    assert mask.sum(dim=1).tolist() == [3, 3, 3]
    assert mask[0].nonzero().flatten().tolist() == [1, 3, 5]
    assert mask[1].nonzero().flatten().tolist() == [0, 4, 5]
    assert mask[2].nonzero().flatten().tolist() == [0, 2, 5]
    fresh = torch.full((3, 6), 0.25, requires_grad=True)
    out = p.fill(index, torch.where(mask, fresh, torch.tensor(float("inf"))), mask)
    assert torch.equal(out.detach(), torch.where(mask, torch.tensor(0.25), stored))
    assert torch.equal(p.last, torch.where(mask, torch.tensor(0.25), stored))
    out.sum().backward()
    assert torch.equal(fresh.grad, mask.float())  # stored entries carry no gradient
    assert not CompetitorPruner(3, 6, keep=0, full_every=3).active
    assert not CompetitorPruner(3, 6, keep=5, full_every=3).active  # keeps every word anyway


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, fsdd_dir):
    """3 digits x 5 speakers x 3 takes (as test_train's)."""
    return make_data(tmp_path_factory.mktemp("tiny"), fsdd_dir, ["0", "1", "7"],
                     range(10, 13), range(5, 7), range(0, 2))


def test_pruned_training_learns_and_resumes_bit_for_bit(tiny, tmp_path, monkeypatch):
    """3 words, 1 competitor kept, full passes every 2nd epoch: epoch 2 is pruned."""
    cfg = config("train.epochs=3", "train.prune_words=1", "train.prune_full_every=2")
    whole = train(tiny, tmp_path / "whole", cfg, progress=False)
    assert whole["epochs"] == 3 and last_state(tmp_path / "whole")["pruner"] is not None
    # killed at epoch 3's validation (epoch 0, 1, 2, then 3)
    kill_and_resume(tiny, tmp_path / "killed", cfg, monkeypatch, kill_at=4)
    assert_same_training(tmp_path / "whole", tmp_path / "killed")


def test_valid_every_scores_every_nth_and_the_last_epoch(tiny, tmp_path):
    cfg = config("train.epochs=3", "train.valid_every=2")
    result = train(tiny, tmp_path / "e", cfg, progress=False)
    rows = [json.loads(r) for r in (tmp_path / "e" / "metrics.jsonl").read_text().splitlines()]
    assert [r["valid_accuracy"] is not None for r in rows] == [True, False, True, True]
    assert result["valid"]["best_epoch"] in (0, 2, 3)
