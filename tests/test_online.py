"""Online speaker CMVN (asr.features.online): the formula against direct sums over real FSDD
features, its limits (strict one-utterance case, batch speaker CMVN), JSON round trip, the prior
stored in checkpoints, and extract_features on a speaker-CMVN front end."""

import json

import pytest
import torch

from asr.features import (
    FrontendConfig,
    OnlineCmvn,
    apply_cmvn,
    extract_features,
    feature_prior,
    online_speaker_cmvn,
    raw_features,
    speaker_cmvn,
)

CFG = FrontendConfig(sample_rate=8000, fmax=4000.0, deltas=1, cmvn="speaker")


@pytest.fixture(scope="module")
def fsdd_file(fsdd_dir):
    return fsdd_dir / "recordings" / "7_nicolas_30.wav"


@pytest.fixture(scope="module")
def lucas(fsdd_dir):
    """Raw features of six real utterances of one speaker."""
    paths = [fsdd_dir / "recordings" / f"{d}_lucas_{t}.wav" for d, t in
             [(0, 1), (3, 2), (7, 3), (1, 4), (9, 5), (4, 6)]]
    return [raw_features(p, CFG) for p in paths]


def direct_mean(prior, tau, earlier, current, include_current=True):
    """(tau mu0 + sum of earlier frames [+ own frames]) / (tau + frames), by plain sums."""
    frames = list(earlier) + ([current] if include_current else [])
    total = tau * prior.double() + sum((f.double().sum(0) for f in frames), torch.zeros_like(
        prior, dtype=torch.float64))
    return (total / (tau + sum(f.shape[0] for f in frames))).float()


@pytest.mark.parametrize("include_current", [True, False])
def test_online_mean_is_prior_plus_earlier_frames(lucas, include_current):
    prior, tau = torch.linspace(-3, 3, CFG.dim), 37.0
    state = OnlineCmvn(prior_mean=prior, prior_frames=tau, include_current=include_current)
    out = online_speaker_cmvn(lucas, ["lucas"] * 6, prior_mean=prior, prior_frames=tau,
                              include_current=include_current)
    for k, feats in enumerate(lucas):
        mean = direct_mean(prior, tau, lucas[:k], feats, include_current)
        torch.testing.assert_close(state.mean_for(feats), mean, rtol=1e-5, atol=1e-4)
        std = feats.std(0, correction=0)
        torch.testing.assert_close(out[k], (feats - mean) / std, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(state.normalize(feats), out[k])
        state.update(feats)
    assert state.frames == sum(f.shape[0] for f in lucas) and state.utterances == 6


def test_online_order_and_speakers_are_respected(lucas):
    prior = torch.zeros(CFG.dim)
    speakers = ["a", "b", "a", "b", "a", "b"]
    order = [5, 0, 3, 2, 1, 4]
    out = online_speaker_cmvn(lucas, speakers, order=order, prior_mean=prior, prior_frames=10)
    # utterance 2 (speaker a) comes after utterance 0 only among a's utterances in that order
    mean = direct_mean(prior, 10, [lucas[0]], lucas[2])
    torch.testing.assert_close(out[2], (lucas[2] - mean) / lucas[2].std(0, correction=0),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="permutation"):
        online_speaker_cmvn(lucas, speakers, order=[0, 0, 1, 2, 3, 4])


def test_limits_strict_case_and_batch_speaker_cmvn(lucas):
    # no prior, no history: the utterance's own mean and deviation ("meanvar")
    alone = online_speaker_cmvn(lucas, [str(i) for i in range(6)], prior_mean=None)
    for a, f in zip(alone, lucas, strict=True):
        torch.testing.assert_close(a, apply_cmvn(f, "meanvar"), rtol=1e-4, atol=1e-4)
    # the last utterance, after all the others, with no prior: batch speaker CMVN's mean
    last = online_speaker_cmvn(lucas, ["s"] * 6, prior_frames=0.0,
                               prior_mean=torch.full((CFG.dim,), 1e3))[-1]
    torch.testing.assert_close(last, speaker_cmvn(lucas, ["s"] * 6)[-1], rtol=1e-4, atol=1e-4)
    # the old-checkpoint rule: nothing known and the utterance excluded -> its own mean
    state = OnlineCmvn(prior_mean=None, include_current=False)
    torch.testing.assert_close(state.mean_for(lucas[0]), lucas[0].mean(0), rtol=1e-5, atol=1e-5)


def test_state_round_trips_through_json(lucas):
    state = OnlineCmvn(prior_mean=torch.arange(CFG.dim, dtype=torch.float32), prior_frames=12.5)
    state.update(lucas[0])
    back = OnlineCmvn.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back.frames == state.frames and back.prior_frames == 12.5
    torch.testing.assert_close(back.normalize(lucas[1]), state.normalize(lucas[1]))
    with pytest.raises(ValueError, match="dimensions"):
        state.update(torch.zeros(4, CFG.dim + 1))


def test_extract_features_normalizes_a_speaker_cmvn_utterance_on_its_own(fsdd_file):
    """Regression: with cmvn="speaker" extract_features returned the raw frames."""
    raw = raw_features(fsdd_file, CFG)
    torch.testing.assert_close(extract_features(fsdd_file, CFG), apply_cmvn(raw, "meanvar"),
                               rtol=1e-4, atol=1e-4)
    mean = raw.mean(0) + 1.0
    torch.testing.assert_close(extract_features(fsdd_file, CFG, speaker_mean=mean),
                               speaker_cmvn([raw], ["s"], {"s": mean})[0])
    with pytest.raises(ValueError, match="speaker_mean"):
        extract_features(fsdd_file, FrontendConfig(sample_rate=8000), speaker_mean=mean)
    # per-utterance modes are unchanged
    meanvar = FrontendConfig(sample_rate=8000, cmvn="meanvar")
    torch.testing.assert_close(extract_features(fsdd_file, meanvar), raw_features(fsdd_file,
                                                                                  meanvar))


def test_checkpoint_keeps_the_prior_and_old_checkpoints_still_load(tmp_path, lucas):
    from asr.checkpoint import load_recognizer, recognizer_payload, save_checkpoint
    from asr.config import Config
    from asr.model import build_recognizer

    config = Config.from_dict({"frontend": CFG.to_dict(), "model": {"kind": "dtw1nn"}})
    rec = build_recognizer(config.model, ["a", "b"], CFG.dim, lucas[:2], [0, 1])
    save_checkpoint(tmp_path / "old" / "best.pt", recognizer_payload(rec, config))
    assert load_recognizer(tmp_path / "old")[0].feature_prior is None
    rec.feature_prior = feature_prior(lucas)
    save_checkpoint(tmp_path / "new" / "best.pt", recognizer_payload(rec, config))
    prior = load_recognizer(tmp_path / "new")[0].feature_prior
    frames = torch.cat(lucas)
    torch.testing.assert_close(prior["mean"], frames.mean(0), rtol=1e-5, atol=1e-4)
    assert prior["frames"] == frames.shape[0] and prior["utterances"] == 6
