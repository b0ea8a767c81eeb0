"""The recognizer: energies against an independent DTW, template (soft-)min, inference, margin,
initialization (medoids, DBA), the three baselines, gradients and speaker hiding."""

import math

import numpy as np
import pytest
import torch

from asr.config import ModelConfig
from asr.model import Recognizer, build_recognizer

WORDS = ["a", "b", "c"]


def dtw_symmetric2(x, y):
    """Sakoe-Chiba symmetric2 DTW normalized by N + M, plain Python (the reference)."""
    n, m = len(x), len(y)
    x, y = x.detach(), y.detach()
    cost = [[float(((x[i] - y[j]) ** 2).sum()) for j in range(m)] for i in range(n)]
    acc = [[math.inf] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            c = cost[i][j]
            if i == 0 and j == 0:
                acc[i][j] = 2 * c
                continue
            acc[i][j] = min(acc[i - 1][j] + c if i else math.inf,
                            acc[i][j - 1] + c if j else math.inf,
                            acc[i - 1][j - 1] + 2 * c if i and j else math.inf)
    return acc[-1][-1] / (n + m)


def random_recognizer(kind="templates", k=2, gamma=0.0, template_gamma=None, dim=3, seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(kind=kind, tdnn_dims=[8], tdnn_contexts=[3], tdnn_dilations=[1],
                      tdnn_strides=[1], embed_dim=dim, dropout=0.0, templates_per_word=k,
                      gamma=gamma, template_gamma=template_gamma, step="symmetric2")
    lengths = [int(v) for v in torch.randint(2, 7, (k * len(WORDS),))]
    rec = Recognizer(WORDS, 3, cfg, lengths, [w for w in range(len(WORDS)) for _ in range(k)])
    rec.set_templates([torch.randn(m, rec.dim) for m in lengths])
    return rec.eval()


def test_energy_is_min_over_templates_of_reference_dtw():
    rec = random_recognizer(k=2)
    utts = [torch.randn(n, 3) for n in (1, 4, 9)]
    energies = rec.energies(utts)
    assert energies.shape == (3, len(WORDS))
    for b, x in enumerate(utts):
        for w, word in enumerate(WORDS):
            ref = min(dtw_symmetric2(x.double(), t.double()) for t in rec.templates_of(word))
            assert energies[b, w].item() == pytest.approx(ref, rel=1e-5, abs=1e-6)


def test_tdnn_energy_uses_the_encoded_utterance():
    rec = random_recognizer(kind="tdnn", k=1)
    x = torch.randn(11, 3)
    (enc,) = rec.encode([x])
    ref = [dtw_symmetric2(enc.double(), rec.templates_of(w)[0].double()) for w in WORDS]
    torch.testing.assert_close(rec.energies([x])[0].double(), torch.tensor(ref,
                               dtype=torch.float64), rtol=1e-5, atol=1e-6)


def test_soft_min_over_templates():
    hard = random_recognizer(k=3)
    soft = random_recognizer(k=3, template_gamma=0.5)
    utts = [torch.randn(6, 3), torch.randn(3, 3)]
    per_template = hard.template_distances(hard.encode(utts)).view(2, len(WORDS), 3)
    expected = -0.5 * torch.logsumexp(-per_template / 0.5, dim=-1)
    torch.testing.assert_close(soft.energies(utts), expected.detach())
    # the soft minimum lies below the hard one, by at most gamma * log K
    diff = hard.energies(utts) - soft.energies(utts)
    assert (diff >= -1e-6).all() and (diff <= 0.5 * math.log(3) + 1e-6).all()


def test_uneven_template_counts_per_word():
    cfg = ModelConfig(kind="templates")
    rec = Recognizer(WORDS, 2, cfg, [3, 2, 4, 1], [0, 2, 0, 1])
    rec.set_templates([torch.randn(m, 2) for m in (3, 2, 4, 1)])
    x = [torch.randn(5, 2)]
    dist = rec.template_distances(x)[0]
    expected = torch.stack([dist[[0, 2]].min(), dist[3], dist[1]])
    torch.testing.assert_close(rec.energies(x)[0], expected.detach())
    assert [t.shape[0] for t in rec.templates_of("a")] == [3, 4]


def test_inference_picks_lowest_energy_and_margin_is_runner_up_minus_best():
    rec = random_recognizer(kind="templates", k=1)
    feats = [torch.randn(6, 3), torch.randn(5, 3)]
    energies = rec.energies(feats)
    best, margin = rec.recognize(feats)
    assert best.tolist() == energies.argmin(dim=1).tolist()
    top2 = energies.sort(dim=1).values[:, :2]
    torch.testing.assert_close(margin, top2[:, 1] - top2[:, 0])


def planted(rng, n_per_word=6, noise=0.05):
    """Noisy, time-stretched copies of one prototype per word."""
    protos = [torch.from_numpy(rng.standard_normal((6, 3))).float() for _ in WORDS]
    feats, labels = [], []
    for w, p in enumerate(protos):
        for _ in range(n_per_word):
            reps = torch.from_numpy(rng.integers(1, 3, size=len(p)))
            x = p.repeat_interleave(reps, dim=0)
            feats.append(x + noise * torch.randn(x.shape))
            labels.append(w)
    return feats, labels


@pytest.mark.parametrize("kind", ["dtw1nn", "templates", "tdnn"])
def test_every_kind_builds_from_data_and_recognizes_planted_words(kind):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    feats, labels = planted(rng)
    cfg = ModelConfig(kind=kind, tdnn_dims=[16], tdnn_contexts=[3], tdnn_dilations=[1],
                      tdnn_strides=[1], embed_dim=8, templates_per_word=2)
    rec = build_recognizer(cfg, WORDS, 3, feats, labels, seed=0)
    best, margin = rec.recognize(feats)
    if kind == "dtw1nn":
        assert len(rec.template_lengths) == len(feats)       # every utterance is a template
        assert not rec.template_frames.requires_grad
        assert rec.energies(feats).min(dim=1).values.abs().max() < 1e-5  # itself, at 0
    else:
        assert len(rec.template_lengths) == 2 * len(WORDS)
    assert best.tolist() == labels
    assert (margin > 0).all()


def test_medoid_templates_come_from_both_planted_clusters():
    """Two very different ways to say word 'a': 2 medoids must take one of each."""
    rng = np.random.default_rng(1)
    a1, a2 = torch.zeros(5, 3), torch.full((7, 3), 4.0)
    feats = [a1 + 0.1 * torch.randn(5, 3) for _ in range(5)]
    feats += [a2 + 0.1 * torch.randn(7, 3) for _ in range(3)]
    labels = [0] * 8
    more, more_labels = planted(rng, n_per_word=2)
    cfg = ModelConfig(kind="templates", templates_per_word=2)
    rec = build_recognizer(cfg, WORDS, 3, feats + more[2:], labels + more_labels[2:], seed=0)
    lengths = sorted(t.shape[0] for t in rec.templates_of("a"))
    means = sorted(float(t.mean()) for t in rec.templates_of("a"))
    assert lengths == [5, 7] and means[0] < 1 < 3 < means[1]


def test_dba_templates_fit_their_cluster_better_than_the_medoid():
    rng = np.random.default_rng(2)
    feats, labels = planted(rng, n_per_word=8, noise=0.3)
    medoid = build_recognizer(ModelConfig(kind="templates", templates_per_word=1), WORDS, 3,
                              feats, labels)
    dba = build_recognizer(ModelConfig(kind="templates", templates_per_word=1,
                                       template_init="dba", dba_iterations=4), WORDS, 3,
                           feats, labels)
    assert medoid.template_lengths == dba.template_lengths   # DBA keeps the medoid's length
    labels_t = torch.tensor(labels)
    fit_medoid = medoid.energies(feats).gather(1, labels_t[:, None]).sum()
    fit_dba = dba.energies(feats).gather(1, labels_t[:, None]).sum()
    assert fit_dba < fit_medoid


def test_dba_leaves_out_members_without_a_warping_path():
    from asr.model import _dba

    template = torch.randn(9, 3)
    near = template + 0.01 * torch.randn(9, 3)
    short = torch.randn(2, 3)   # asymmetric: a 2-frame utterance cannot cover 9 template frames
    options = {"step": "asymmetric", "band": None}
    got = _dba(template, [near, short], 3, options)
    assert torch.allclose(got, _dba(template, [near], 3, options))
    assert (got - near).abs().max() < (template - near).abs().max()


def _one_dba_step(template, members, metric):
    """One DBA update by hand: each template frame <- mean of the frames the DTW path (on the
    given metric's local distances, symmetric2) aligns to it."""
    from asr.dtw import dtw, local_distances

    total, count = torch.zeros_like(template), torch.zeros(template.shape[0], 1)
    for seq in members:
        path = np.asarray(dtw(local_distances(seq, template, metric).numpy(),
                              step="symmetric2").path)
        for i, j in path:
            total[j] += seq[i]
            count[j] += 1
    return torch.where(count > 0, total / count.clamp(min=1), template)


def test_dba_aligns_with_the_models_metric():
    """With metric=cosine, DBA follows the cosine paths (not squared Euclidean ones)."""
    from asr.model import _dba

    g = torch.Generator().manual_seed(3)
    template = torch.randn(6, 4, generator=g, dtype=torch.float64)
    # frames of very different norms: cosine and squared-Euclidean paths part ways
    members = [torch.randn(n, 4, generator=g, dtype=torch.float64)
               * torch.rand(n, 1, generator=g, dtype=torch.float64).mul(20).add(0.05)
               for n in (5, 8, 9)]
    options = {"step": "symmetric2", "band": None, "metric": "cosine"}
    got = _dba(template, members, 1, options)
    cosine = _one_dba_step(template, members, "cosine")
    euclid = _one_dba_step(template, members, "sqeuclidean")
    assert not torch.allclose(cosine, euclid)    # the two metrics disagree here
    torch.testing.assert_close(got, cosine)


def test_gradients_flow_to_templates_and_tdnn():
    rec = random_recognizer(kind="tdnn", k=2).train()
    energies = rec([torch.randn(7, 3), torch.randn(4, 3)])
    energies[:, 0].sum().backward()
    assert rec.template_frames.grad.abs().sum() > 0
    for name, p in rec.encoder.named_parameters():
        assert p.grad is not None, name
    # only templates of word 0 are touched by a loss on word 0's energy
    grad_rows = rec.template_frames.grad.abs().sum(dim=1) > 0
    owner = torch.repeat_interleave(rec.template_word, torch.tensor(rec.template_lengths))
    assert not grad_rows[owner != 0].any()


def test_speaker_templates_and_hiding_own_speaker():
    rng = np.random.default_rng(3)
    feats, labels = planted(rng, n_per_word=4)
    speakers = ["s1", "s2"] * (len(feats) // 2)
    cfg = ModelConfig(kind="templates", templates_per_speaker=1)
    rec = build_recognizer(cfg, WORDS, 3, feats, labels, speakers=speakers)
    assert rec.speakers == ["s1", "s2"]
    assert sorted(rec.template_speaker.tolist()) == [0] * 3 + [1] * 3
    x = feats[:2]
    dist = rec.template_distances(rec.encode(x))
    hidden = rec(x, hide_speakers=torch.tensor([0, 1]))
    for b, spk in enumerate([0, 1]):
        for w in range(len(WORDS)):
            keep = (rec.template_word == w) & (rec.template_speaker != spk)
            assert hidden[b, w].item() == pytest.approx(dist[b, keep].min().item())


def test_model_args_rebuild_the_same_recognizer():
    rec = random_recognizer(kind="tdnn", k=2)
    clone = Recognizer(**rec.model_args())
    clone.load_state_dict(rec.state_dict())
    utts = [torch.randn(8, 3)]
    torch.testing.assert_close(clone.eval().energies(utts), rec.energies(utts))
    assert rec.dtw_options == {"step": "symmetric2", "gamma": 0.0, "normalize": True,
                               "band": None, "metric": "sqeuclidean"}


def test_bad_features_and_words_are_rejected():
    rec = random_recognizer()
    with pytest.raises(ValueError, match="features must be"):
        rec.energies([torch.randn(5, 4)])
    with pytest.raises(ValueError, match="features must be"):
        rec.energies([torch.randn(0, 3)])
    with pytest.raises(ValueError, match="no training utterance"):
        build_recognizer(ModelConfig(kind="templates"), WORDS, 3, [torch.randn(4, 3)], [0])
    assert rec.energies([]).shape == (0, len(WORDS))


def test_align_shows_the_template_recognition_used():
    """asr align picks the template of lowest normalized energy (what recognition minimizes),
    not of lowest raw accumulated cost: a short template can have the lower raw cost."""
    from asr.config import Config
    from asr.recognition.align import align_with_model

    model = ModelConfig(kind="templates", step="symmetric2")
    rec = Recognizer(["a", "b"], 1, model, [3, 30, 4], [0, 0, 1])
    # x = 0 everywhere: template 0 costs 1 per cell over weight 12 + 3, template 1 costs 0.81
    # per cell over weight 12 + 30: raw 15 < 34.0, but normalized 1.0 > 0.81
    rec.set_templates([torch.ones(3, 1), torch.full((30, 1), 0.9), torch.full((4, 1), 5.0)])
    out = align_with_model(rec.eval(), Config(), torch.zeros(12, 1))
    assert out["word"] == "a" and out["template"] == 1
    assert out["template_energy"] == pytest.approx(0.81, rel=1e-5)
    assert out["energies"]["a"] == pytest.approx(0.81, rel=1e-5)
