"""Front-end config, log-mel / MFCC frames, deltas, CMVN, speed perturbation, batching."""

import math

import numpy as np
import pytest
import scipy.fft
import soundfile as sf
import torch
import yaml

from asr.errors import AudioError, ConfigError
from asr.features import (
    FrontendConfig,
    add_deltas,
    apply_cmvn,
    compute_features,
    extract_features,
    finish_cmvn,
    load_audio,
    pad_batch,
    speaker_cmvn,
    speaker_means,
)
from asr.features.audio import speed_rate

RAW = dict(cmvn="none", deltas=0, trim=False)


def tone(freq, rate, seconds, amp=0.5):
    t = torch.arange(int(rate * seconds), dtype=torch.float64) / rate
    return (amp * torch.sin(2 * math.pi * freq * t)).float()


def kaldi_mel(f):
    return 1127.0 * np.log1p(np.asarray(f) / 700.0)


@pytest.fixture(scope="module")
def fsdd_file(fsdd_dir):
    return fsdd_dir / "recordings" / "7_nicolas_30.wav"


# ---------------------------------------------------------------- config
def test_config_defaults_dims_and_round_trip_through_yaml():
    cfg = FrontendConfig()
    assert (cfg.sample_rate, cfg.kind, cfg.win_ms, cfg.hop_ms, cfg.dim) == (16000, "mfcc", 25.0,
                                                                           10.0, 39)
    assert cfg.remove_dc and cfg.trim and cfg.hop_seconds == 0.01
    assert FrontendConfig(kind="logmel", n_mels=30, deltas=1).dim == 60
    custom = FrontendConfig(sample_rate=8000, fmax=4000.0, n_mels=30, cmvn="meanvar", deltas=1)
    text = yaml.safe_dump(custom.to_dict())
    assert FrontendConfig.from_dict(yaml.safe_load(text)) == custom
    from_ints = FrontendConfig(sample_rate=8000.0, fmax=4000, win_ms=25)
    assert from_ints.to_dict() == FrontendConfig(sample_rate=8000, fmax=4000.0).to_dict()
    assert isinstance(from_ints.fmax, float) and isinstance(from_ints.sample_rate, int)


@pytest.mark.parametrize("bad, key", [
    ({"kind": "plp"}, "kind"), ({"deltas": 3}, "deltas"), ({"cmvn": "global"}, "cmvn"),
    ({"sample_rate": 8000, "fmax": 6000.0}, "fmax"), ({"fmin": 9000.0}, "fmin"),
    ({"n_mfcc": 50}, "n_mfcc"), ({"hop_ms": 0.0}, "hop_ms"), ({"trim": "yes"}, "trim"),
    ({"window": "kaiser"}, "window"), ({"n_mel": 40}, "n_mel"),
])
def test_bad_config_values_name_the_key(bad, key):
    with pytest.raises(ConfigError, match=key):
        FrontendConfig.from_dict(bad)


# ---------------------------------------------------------------- frames
@pytest.mark.parametrize("rate", [8000, 16000])
def test_frame_count_shape_and_dtype(fsdd_file, rate):
    cfg = FrontendConfig(sample_rate=rate, trim=False)
    wave = load_audio(fsdd_file, rate)
    feats = extract_features(fsdd_file, cfg)
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()
    assert feats.shape == (1 + (wave.shape[0] - cfg.win_length) // cfg.hop_length, cfg.dim)


@pytest.mark.parametrize("rate, freq", [(8000, 500.0), (8000, 2000.0), (16000, 1000.0),
                                        (16000, 5000.0)])
def test_logmel_of_a_tone_peaks_in_the_filter_centred_on_it(rate, freq):
    cfg = FrontendConfig(sample_rate=rate, kind="logmel", n_mels=30, **RAW)
    feats = compute_features(tone(freq, rate, 0.5), cfg)
    fmax = rate / 2
    edges = np.linspace(kaldi_mel(cfg.fmin), kaldi_mel(fmax), cfg.n_mels + 2)
    expected = int(np.argmin(np.abs(edges[1:-1] - kaldi_mel(freq))))
    assert abs(int(feats.mean(0).argmax()) - expected) <= 1


def test_mfcc_is_the_orthonormal_dct_of_logmel_then_liftered(fsdd_file):
    wave = load_audio(fsdd_file, 8000)
    base = dict(sample_rate=8000, n_mels=23, n_mfcc=13, **RAW)
    logmel = compute_features(wave, FrontendConfig(kind="logmel", **base)).double().numpy()
    cep = scipy.fft.dct(logmel, type=2, norm="ortho", axis=1)[:, :13]
    plain = compute_features(wave, FrontendConfig(kind="mfcc", lifter=0.0, **base))
    np.testing.assert_allclose(plain.numpy(), cep, rtol=1e-4, atol=1e-3)
    lifter = 22.0
    liftered = compute_features(wave, FrontendConfig(kind="mfcc", lifter=lifter, **base))
    scale = 1 + lifter / 2 * np.sin(np.pi * np.arange(13) / lifter)
    np.testing.assert_allclose(liftered.numpy(), cep * scale, rtol=1e-4, atol=1e-3)


def test_deltas_follow_the_regression_formula(fsdd_file):
    cfg = FrontendConfig(sample_rate=8000, kind="mfcc", deltas=2, cmvn="none", trim=False)
    feats = extract_features(fsdd_file, cfg).double().numpy()
    c, d, dd = feats[:, :13], feats[:, 13:26], feats[:, 26:]

    def regress(x):
        p = np.pad(x, ((2, 2), (0, 0)), mode="edge")
        t = np.arange(len(x)) + 2
        return (1 * (p[t + 1] - p[t - 1]) + 2 * (p[t + 2] - p[t - 2])) / 10.0

    np.testing.assert_allclose(d, regress(c), atol=1e-3)
    np.testing.assert_allclose(dd, regress(regress(c)), atol=1e-3)
    assert torch.equal(add_deltas(torch.ones(4, 3), 0), torch.ones(4, 3))


@pytest.mark.parametrize("win_length", [3, 5, 9])
def test_deltas_match_torchaudio(win_length):
    import torchaudio.functional as AF

    x = torch.randn(37, 13, generator=torch.Generator().manual_seed(0))
    ours = add_deltas(x, 2, win_length=win_length)
    d = AF.compute_deltas(x.T, win_length=win_length).T
    dd = AF.compute_deltas(d.T, win_length=win_length).T
    torch.testing.assert_close(ours, torch.cat([x, d, dd], dim=1), rtol=1e-5, atol=1e-5)
    one = add_deltas(x[:1], 1, win_length=win_length)       # one frame: deltas are 0
    assert torch.equal(one[:, 13:], torch.zeros(1, 13))
    with pytest.raises(ValueError, match="odd"):
        add_deltas(x, 1, win_length=4)


def test_cmvn_modes(fsdd_file):
    wave = load_audio(fsdd_file, 8000)
    raw = compute_features(wave, FrontendConfig(sample_rate=8000, cmvn="none"))
    mean = compute_features(wave, FrontendConfig(sample_rate=8000, cmvn="mean"))
    meanvar = compute_features(wave, FrontendConfig(sample_rate=8000, cmvn="meanvar"))
    torch.testing.assert_close(mean, raw - raw.mean(0), atol=1e-4, rtol=0)
    assert mean.mean(0).abs().max() < 1e-4
    assert (meanvar.std(0, unbiased=False) - 1).abs().max() < 1e-3
    constant = apply_cmvn(torch.ones(5, 2), "meanvar")  # zero variance: no division by zero
    assert torch.isfinite(constant).all() and constant.abs().max() == 0


def test_speaker_cmvn_removes_each_speakers_mean_and_each_utterances_scale():
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(t, 3, generator=g) * s + m
             for t, s, m in ((9, 2.0, 1.0), (6, 0.5, 3.0), (7, 3.0, -2.0))]
    speakers = ["a", "a", "b"]
    out = speaker_cmvn(feats, speakers)
    mean_a = torch.cat(feats[:2]).mean(0)
    for x, y, s in zip(feats, out, speakers, strict=True):
        mean = mean_a if s == "a" else x.mean(0)
        torch.testing.assert_close(y, (x - mean) / x.std(0, correction=0), atol=1e-5, rtol=1e-5)
    # a speaker of one utterance gets per-utterance mean and variance normalization
    torch.testing.assert_close(out[2], apply_cmvn(feats[2], "meanvar"), atol=1e-5, rtol=1e-5)
    # the speaker mean, not each utterance's, is removed: utterance means of "a" stay apart
    assert (out[0].mean(0) - out[1].mean(0)).abs().max() > 0.5
    # given means are used as they are; finish_cmvn applies it only for cmvn="speaker"
    zero = {"a": torch.zeros(3), "b": torch.zeros(3)}
    torch.testing.assert_close(speaker_cmvn(feats, speakers, zero)[0],
                               feats[0] / feats[0].std(0, correction=0))
    assert finish_cmvn(feats, speakers, FrontendConfig(cmvn="meanvar"))[0] is feats[0]
    torch.testing.assert_close(finish_cmvn(feats, speakers, FrontendConfig(cmvn="speaker"))[1],
                               out[1])
    means = speaker_means(feats, speakers)
    torch.testing.assert_close(means["a"], mean_a)


def test_speaker_cmvn_leaves_extraction_to_the_set(fsdd_file):
    wave = load_audio(fsdd_file, 8000)
    raw = compute_features(wave, FrontendConfig(sample_rate=8000, cmvn="none"))
    deferred = compute_features(wave, FrontendConfig(sample_rate=8000, cmvn="speaker"))
    torch.testing.assert_close(deferred, raw)


def test_dc_removal_lets_trimming_find_the_word(fsdd_file):
    rate = 8000
    word = load_audio(fsdd_file, rate)
    word = word - word.mean()  # so that the silence around it is exactly the offset
    silence = torch.zeros(rate // 2)
    padded = torch.cat([silence, word, silence]) + 0.4  # a large constant offset
    with_dc = compute_features(padded, FrontendConfig(sample_rate=rate))
    no_dc = compute_features(padded, FrontendConfig(sample_rate=rate, remove_dc=False))
    word_frames = compute_features(word, FrontendConfig(sample_rate=rate)).shape[0]
    total_frames = 1 + (padded.shape[0] - 200) // 80
    assert abs(with_dc.shape[0] - word_frames) <= 3
    assert no_dc.shape[0] == total_frames  # the offset looks like loud audio everywhere


def test_speed_perturbation_changes_the_number_of_frames(fsdd_file):
    cfg = FrontendConfig(sample_rate=8000, trim=False)
    n = load_audio(fsdd_file, 8000).shape[0]
    for speed in (0.9, 1.0, 1.1):
        frames = extract_features(fsdd_file, cfg, speed=speed).shape[0]
        samples = math.ceil(n * speed_rate(8000, speed) / 8000)
        assert abs(frames - (1 + (samples - 200) // 80)) <= 1


def test_compute_features_resamples_when_told_the_rate(fsdd_file):
    cfg = FrontendConfig(sample_rate=16000)
    at8k = load_audio(fsdd_file, 8000)
    direct = compute_features(at8k, cfg, sample_rate=8000)
    torch.testing.assert_close(direct, extract_features(fsdd_file, cfg))


def test_running_8k_audio_at_16k_leaves_the_upper_band_empty(fsdd_file):
    cfg = FrontendConfig(sample_rate=16000, kind="logmel", n_mels=40, **RAW)
    feats = extract_features(fsdd_file, cfg)
    edges = np.linspace(kaldi_mel(cfg.fmin), kaldi_mel(8000.0), cfg.n_mels + 2)
    upper = torch.from_numpy(edges[:-2] > kaldi_mel(4300.0))  # filters entirely above 4.3 kHz
    assert upper.sum() >= 8
    # natural log: upper filters sit more than 30 dB (a factor 1000) below the lower ones
    assert feats[:, ~upper].mean() - feats[:, upper].mean() > math.log(1000.0)


def test_audio_shorter_than_one_window_is_an_audio_error(tmp_path):
    cfg = FrontendConfig()
    with pytest.raises(AudioError, match="shorter than one analysis window"):
        compute_features(torch.randn(cfg.win_length - 1) * 0.1, cfg)
    path = tmp_path / "short.wav"
    sf.write(path, np.full(cfg.win_length, 0.1, dtype=np.float32), 16000)
    assert extract_features(path, cfg).shape[0] == 1
    with pytest.raises(AudioError, match=r"short\.wav: .* after speed 1\.5"):
        extract_features(path, cfg, speed=1.5)


# ---------------------------------------------------------------- batching
def test_pad_batch():
    torch.manual_seed(0)
    seqs = [torch.randn(t, 5) for t in (3, 7, 1)]
    padded, lengths = pad_batch(seqs)
    assert padded.shape == (3, 7, 5) and lengths.tolist() == [3, 7, 1]
    assert lengths.dtype == torch.long
    for row, seq in zip(padded, seqs, strict=True):
        assert torch.equal(row[: len(seq)], seq) and row[len(seq):].abs().sum() == 0
    with pytest.raises(ValueError, match="one D"):
        pad_batch([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match="empty"):
        pad_batch([])
