"""Feature-domain augmentation: band warping, SpecAugment masks, crops, noise, reproducibility."""

import numpy as np
import pytest
import torch

from asr.features import FrontendConfig
from asr.training.augment import Augmenter, random_crop, spec_augment, warp_bands


def test_identity_warp_changes_nothing_and_a_shift_moves_a_peak():
    x = torch.randn(7, 12)
    torch.testing.assert_close(warp_bands(x, np.arange(6.0), blocks=2), x)
    peak = torch.zeros(1, 10)
    peak[0, 4] = 1.0
    moved = warp_bands(peak, np.arange(10.0) - 2)   # band i reads band i - 2
    assert int(moved.argmax()) == 6


def test_vtlp_moves_formants_the_right_way():
    """alpha > 1 stretches the spectrum upwards: a peak in a mel band moves to a higher band."""
    cfg = FrontendConfig(sample_rate=8000, fmax=4000.0, kind="logmel", n_mels=30, deltas=1)
    aug = Augmenter(cfg, vtlp=0.2)
    x = torch.zeros(5, cfg.dim)
    x[:, 15] = 1.0                 # static block
    x[:, 30 + 15] = 1.0            # delta block, warped alike
    up = warp_bands(x, aug._band_positions(1.2), blocks=2)
    down = warp_bands(x, aug._band_positions(0.8), blocks=2)
    assert int(up[0, :30].argmax()) > 15 > int(down[0, :30].argmax())
    assert int(up[0, 30:].argmax()) == int(up[0, :30].argmax())


def test_spec_augment_zeroes_runs_of_frames_and_the_same_channels_in_each_block():
    x = torch.ones(40, 3 * 10)
    y = spec_augment(x, np.random.default_rng(0), blocks=3, time_masks=2, time_width=6,
                     freq_masks=2, freq_width=3)
    assert torch.equal(x, torch.ones(40, 30))   # input untouched
    zero_cols = (y == 0).all(dim=0).reshape(3, 10)
    assert torch.equal(zero_cols[0], zero_cols[1]) and torch.equal(zero_cols[0], zero_cols[2])
    assert 0 < int(zero_cols[0].sum()) <= 6
    zero_rows = int((y == 0).all(dim=1).sum())
    assert 0 < zero_rows <= 12


def test_crop_keeps_at_least_half_and_a_contiguous_run():
    x = torch.arange(20.0)[:, None]
    for seed in range(20):
        y = random_crop(x, np.random.default_rng(seed), 8)
        assert y.shape[0] >= 10
        assert torch.equal(y[:, 0], torch.arange(float(y[0, 0]), float(y[0, 0]) + y.shape[0]))
    one = torch.ones(1, 3)
    assert torch.equal(random_crop(one, np.random.default_rng(0), 8), one)


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_augmenter_is_seeded_and_keeps_shapes(kind):
    cfg = FrontendConfig(sample_rate=8000, kind=kind, n_mels=20)
    aug = Augmenter(cfg, vtlp=0.1, time_masks=2, time_width=4, freq_masks=1, freq_width=3,
                    noise=0.1, crop=3)
    assert aug.active
    x = torch.randn(30, cfg.dim)
    a = aug(x, np.random.default_rng(7))
    b = aug(x, np.random.default_rng(7))
    assert torch.equal(a, b) and a.shape[1] == cfg.dim and 15 <= a.shape[0] <= 30
    assert aug.vtlp == 0.1   # log-mel bands warped directly, MFCCs through their envelope
    assert not Augmenter(cfg).active


def test_channel_offset_is_one_constant_per_utterance_on_the_static_coefficients():
    """train.channel_offset: every frame of an utterance moves by the same vector, drawn per
    utterance with the given standard deviation; the deltas (a constant's slope: 0) stay."""
    cfg = FrontendConfig(sample_rate=8000, kind="mfcc", n_mfcc=13, deltas=2)
    aug = Augmenter(cfg, channel=0.5)
    assert aug.active
    x = torch.randn(40, cfg.dim)
    rng = np.random.default_rng(0)
    draws = torch.stack([aug(x, rng) - x for _ in range(400)])        # [draw, T, D]
    assert torch.allclose(draws, draws[:, :1].expand_as(draws), atol=1e-6)  # same each frame
    assert torch.equal(draws[:, :, 13:], torch.zeros_like(draws[:, :, 13:]))
    std = draws[:, 0, :13].std(dim=0)
    assert torch.allclose(std, torch.full((13,), 0.5), atol=0.06)
    assert not torch.equal(draws[0], draws[1])                           # a new one per draw


def test_masks_land_on_the_mean_after_global_standardization(fsdd_dir):
    """With model.input_norm=global the model standardizes raw MFCCs; a mask must write the
    training mean (0 after standardization), not raw 0 (c0 would become about -8 sigma)."""
    from asr.config import load_config
    from asr.features import extract_features

    cfg = load_config("recipes/fsdd/conf/default.yaml")
    assert cfg.model.input_norm == "global"
    files = sorted((fsdd_dir / "recordings").glob("*_george_1[0-4].wav"))[:10]
    feats = [extract_features(f, cfg.frontend) for f in files]
    frames = torch.cat(feats)
    mean, std = frames.mean(0), frames.std(0)
    raw_zero_c0 = float((0 - mean[0]) / std[0])
    assert raw_zero_c0 < -3      # the defect: a raw-0 mask is far outside the data
    aug = Augmenter(cfg.frontend, time_masks=2, time_width=5, freq_masks=0, freq_width=0,
                    fill=mean)
    rng = np.random.default_rng(0)
    masked_rows = 0
    for x in feats:
        y = aug(x, rng)
        z = (y - mean) / std
        rows = (y != x).any(dim=1)
        masked_rows += int(rows.sum())
        torch.testing.assert_close(z[rows], torch.zeros_like(z[rows]), atol=1e-5, rtol=0)
    assert masked_rows > 0



def test_online_cmvn_simulator_draws_states_of_the_utterances_own_speaker():
    """H = 0 is a new speaker's first utterance (OnlineCmvn with the prior); with H > 0 the
    mean takes in other utterances of the same speaker only, exactly as the formula says."""
    from asr.features import OnlineCmvn
    from asr.training.augment import OnlineCmvnSimulator

    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(int(n), 3, generator=g) + 5 * (i % 2) for i, n in
             enumerate(torch.randint(4, 9, (6,), generator=g))]
    speakers = ["a", "b", "a", "b", "a", "b"]
    prior = torch.tensor([1.0, -1.0, 0.5])
    strict = OnlineCmvnSimulator([feats], speakers, prior, 10.0, max_history=0)
    rng = np.random.default_rng(0)
    for i, x in enumerate(feats):
        torch.testing.assert_close(strict(i, 0, rng), OnlineCmvn(prior, 10.0).normalize(x))
    online = OnlineCmvnSimulator([feats], speakers, prior, 10.0, max_history=2)
    x = feats[0]
    seen = set()
    for seed in range(30):
        got = online(0, 0, np.random.default_rng(seed))
        mean = x.mean(0) - got.mean(0) * x.std(0, correction=0)   # recover the mean used
        candidates = {(): None, (2,): None, (4,): None, (2, 4): None}
        for peers in candidates:
            total = 10.0 * prior.double() + x.double().sum(0)
            count = 10.0 + x.shape[0]
            for j in peers:
                total, count = total + feats[j].double().sum(0), count + feats[j].shape[0]
            if torch.allclose(mean.double(), total / count, atol=1e-4):
                seen.add(peers)
    assert seen == {(), (2,), (4,), (2, 4)}      # speaker a's others only, 0 to 2 of them


def test_cepstral_warp_is_the_band_warp_of_the_envelope_the_cepstra_keep():
    """MFCC VTLP: warping Kaldi cepstra c = L D m equals the cepstra of the band-warped
    envelope when m lies in the span the cepstra keep; no warp is the identity; the Augmenter
    warps MFCCs of every block."""
    import numpy as np

    from asr.features import FrontendConfig
    from asr.training.augment import Augmenter, cepstral_warp, kaldi_cepstra, warp_bands

    dct, lift = kaldi_cepstra(13, 23, 22.0)
    assert torch.allclose(dct @ dct.T, torch.eye(13), atol=1e-5)
    g = torch.Generator().manual_seed(0)
    envelope = torch.randn(7, 13, generator=g) @ dct          # [T, bands], in the kept span
    cepstra = (envelope @ dct.T) * lift                        # c = L D m, per frame
    positions = np.clip(np.arange(23) * 0.93 + 0.4, 0, 22)
    warped = cepstral_warp(cepstra, positions, dct, lift)
    expected = (warp_bands(envelope, positions) @ dct.T) * lift
    assert torch.allclose(warped, expected, atol=1e-4)
    same = cepstral_warp(cepstra, np.arange(23.0), dct, lift)
    assert torch.allclose(same, cepstra, atol=1e-5)
    two = torch.cat([cepstra, 2 * cepstra], 1)                 # static + delta blocks
    out = cepstral_warp(two, positions, dct, lift, blocks=2)
    assert torch.allclose(out, torch.cat([warped, 2 * warped], 1), atol=1e-4)
    frontend = FrontendConfig(sample_rate=8000, fmax=4000.0, kind="mfcc", n_mels=23, deltas=1)
    aug = Augmenter(frontend, vtlp=0.1)
    x = torch.randn(20, frontend.dim, generator=g)
    y = aug(x, np.random.default_rng(0))
    assert aug.active and y.shape == x.shape and not torch.allclose(x, y)
