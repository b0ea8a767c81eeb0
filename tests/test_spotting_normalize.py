"""Speaker CMVN on a stream (asr.spotting.normalize): only speech frames move the speaker's
mean, the mean follows the clip formula with the prior, the scale is the recent speech's, and
the result does not depend on how the stream is cut into chunks."""

import dataclasses

import numpy as np
import pytest
import soundfile

from asr.features import FrontendConfig, compute_features, load_audio
from asr.spotting.frontend import StreamFeatures
from asr.spotting.normalize import SpeechGate, StreamSpeakerCmvn

MFCC = FrontendConfig(sample_rate=8000, kind="mfcc", n_mels=40, n_mfcc=13, deltas=0,
                      cmvn="speaker")


def _frames(levels, rng, dim=13):
    """MFCC-like frames whose c0 says the level (mean log energy per band) in natural-log
    units: c0 = level * sqrt(40)."""
    x = rng.normal(size=(len(levels), dim))
    x[:, 0] = np.asarray(levels) * np.sqrt(40.0)
    return x


def test_only_speech_frames_move_the_mean_and_it_follows_the_clip_formula():
    rng = np.random.default_rng(0)
    db = np.log(10.0) / 10.0
    noise = rng.normal(0.0, 0.1 * db, 400)                # noise floor near 0 dB
    speech = 20.0 * db + rng.normal(0.0, 2.0 * db, 150)   # 20 dB above it
    levels = np.concatenate([noise[:200], speech, noise[200:]])
    x = _frames(levels, rng)
    prior = {"mean": rng.normal(size=13), "prior_frames": 50.0}
    speech = SpeechGate(MFCC, margin_db=5.0, floor_frames=300)(x)
    assert not speech[:200].any() and speech[200:350].all() and not speech[350:].any()
    cmvn = StreamSpeakerCmvn(prior, mean_frames=10**6, scale_frames=100)
    out = cmvn(x, speech)
    assert cmvn.speech_frames == 150
    # (tau mu0 + sum of the speech frames) / (tau + n), as speaker CMVN of a speaker's clips
    expected = (50.0 * prior["mean"] + x[200:350].sum(0)) / (50.0 + 150)
    np.testing.assert_allclose(cmvn.mean, expected, rtol=1e-9, atol=1e-9)
    # the scale is that of the last 100 speech frames about their running mean
    k, m, v = 0.0, None, None
    for row in x[200:350]:
        k = min(k + 1.0, 100.0)
        m = row.copy() if m is None else m + (row - m) / k
        v = np.zeros_like(row) if k == 1.0 else v + ((row - m) ** 2 - v) / k
    np.testing.assert_allclose(cmvn.var, v, rtol=1e-6)
    np.testing.assert_allclose(out[-1], (x[-1] - expected) / np.sqrt(v), rtol=1e-5)


def test_a_new_voice_takes_over_after_the_mean_window():
    rng = np.random.default_rng(1)
    db = np.log(10.0) / 10.0
    levels = np.tile(np.r_[np.zeros(20), np.full(80, 20.0 * db)], 40)
    x = _frames(levels, rng)
    x[len(x) // 2:, 1:] += 5.0                            # the second half: another channel
    cmvn = StreamSpeakerCmvn(None, mean_frames=200)
    cmvn(x, SpeechGate(MFCC, margin_db=5.0)(x))
    second = x[len(x) // 2:][levels[len(x) // 2:] > 0]
    assert np.abs(cmvn.mean[1:] - second[:, 1:].mean(0)).max() < 0.5


@pytest.mark.parametrize("kind", ["mfcc", "logmel"])
def test_streamed_speaker_cmvn_does_not_depend_on_the_chunks(fsdd_dir, kind):
    """A real clip between pauses of low noise, pushed in random chunks or at once: the same
    normalized frames; the gate finds the clip's speech and not the pauses."""
    config = dataclasses.replace(MFCC, kind=kind, deltas=2, trim=False)
    wave, rate = soundfile.read(fsdd_dir / "recordings" / "7_jackson_3.wav", dtype="float32")
    assert rate == 8000
    rng = np.random.default_rng(2)
    pause = (0.0005 * rng.normal(size=8000)).astype(np.float32)
    stream = np.concatenate([pause, wave, pause, wave, pause])
    whole = StreamFeatures(config, prior=None).push(stream, final=True)
    chunked, parts, i = StreamFeatures(config, prior=None), [], 0
    while i < len(stream):
        n = int(rng.integers(1, 900))
        parts.append(chunked.push(stream[i:i + n]))
        i += n
    parts.append(chunked.push(np.zeros(0, np.float32), final=True))
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    gate = chunked._speaker
    assert whole.shape[0] == chunked.gate.frames
    clip_frames = len(compute_features(load_audio(fsdd_dir / "recordings" / "7_jackson_3.wav",
                                                  8000), dataclasses.replace(config, cmvn="none")))
    assert 0.3 * 2 * clip_frames < gate.speech_frames <= 2 * clip_frames + 10
