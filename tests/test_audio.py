"""Audio loading, resampling, down-mixing, DC removal, trimming and speed perturbation."""

import math

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from asr.errors import AudioError, ConfigError
from asr.features.audio import (
    load_audio,
    remove_dc,
    speed_perturb,
    speed_rate,
    trim_bounds,
    trim_silence,
)


def tone(freq, rate, seconds, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(wave, rate):
    spec = np.abs(np.fft.rfft(np.asarray(wave, dtype=np.float64) * np.hanning(len(wave))))
    return np.argmax(spec) * rate / len(wave)


@pytest.fixture(scope="module")
def fsdd_file(fsdd_dir):
    return fsdd_dir / "recordings" / "3_jackson_12.wav"


def test_load_wav_at_native_rate_is_the_file(fsdd_file):
    data, rate = sf.read(fsdd_file, dtype="float32")
    wave = load_audio(fsdd_file, rate)
    assert rate == 8000 and wave.dtype == torch.float32 and wave.ndim == 1
    np.testing.assert_array_equal(wave.numpy(), data)


def test_resampling_keeps_pitch_and_duration(tmp_path):
    path = tmp_path / "a440.wav"
    sf.write(path, tone(440.0, 8000, 1.0), 8000, subtype="FLOAT")
    up = load_audio(path, 16000)
    assert up.shape[0] == 16000
    assert abs(peak_hz(up.numpy(), 16000) - 440.0) < 2.0
    path44 = tmp_path / "a1000_44k.wav"
    sf.write(path44, tone(1000.0, 44100, 0.5), 44100, subtype="FLOAT")
    down = load_audio(path44, 16000)
    assert down.shape[0] == 8000
    assert abs(peak_hz(down.numpy(), 16000) - 1000.0) < 4.0


def test_stereo_is_down_mixed_to_the_channel_mean(tmp_path):
    left, right = tone(300.0, 16000, 0.3), tone(700.0, 16000, 0.3, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, 16000).numpy(), (left + right) / 2, atol=1e-7)


def test_flac_and_ogg_read_like_wav(tmp_path, fsdd_file):
    data, rate = sf.read(fsdd_file, dtype="float32")
    ref = load_audio(fsdd_file, rate).numpy()
    sf.write(tmp_path / "x.flac", data, rate, subtype="PCM_16")
    np.testing.assert_array_equal(load_audio(tmp_path / "x.flac", rate).numpy(), ref)
    sf.write(tmp_path / "x.ogg", data, rate, format="OGG", subtype="VORBIS")
    ogg = load_audio(tmp_path / "x.ogg", rate).numpy()
    n = min(len(ogg), len(ref))
    assert abs(len(ogg) - len(ref)) < 0.01 * rate
    assert np.corrcoef(ogg[:n], ref[:n])[0, 1] > 0.9  # lossy, but the same signal


def _bad_files(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.wav").write_text("this is a text file, not audio\n")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\xff" * 40)
    sf.write(tmp_path / "nan.wav", np.array([0.1, np.nan, 0.2] * 100, dtype=np.float32), 16000,
             subtype="FLOAT")
    (tmp_path / "folder.wav").mkdir()
    return {
        "missing.wav": "no such audio file",
        "empty.wav": "empty file",
        "notes.wav": "not a readable audio file",
        "corrupt.wav": "not a readable audio file",
        "nan.wav": "NaN or infinite",
        "folder.wav": "is a directory",
    }


def test_bad_files_raise_one_line_audio_errors_naming_the_file(tmp_path):
    for name, rule in _bad_files(tmp_path).items():
        with pytest.raises(AudioError) as info:
            load_audio(tmp_path / name, 16000)
        msg = str(info.value)
        assert str(tmp_path / name) in msg and rule in msg and "\n" not in msg


def test_remove_dc():
    x = torch.from_numpy(tone(200.0, 8000, 0.5)) + 0.3
    y = remove_dc(x)
    assert abs(float(y.mean())) < 1e-6
    torch.testing.assert_close(y - y.mean(), x - x.mean())


@pytest.mark.parametrize("top_db", [20.0, 40.0, 60.0])
def test_trim_bounds_match_librosa_on_real_audio(fsdd_dir, speech_commands_dir, top_db):
    files = sorted((fsdd_dir / "recordings").glob("*_lucas_*.wav"))[:15]
    files += sorted(speech_commands_dir.glob("*/*.wav"))[::20]
    for path in files:
        rate = sf.info(path).samplerate
        win, hop = int(0.025 * rate), int(0.010 * rate)
        wave = remove_dc(load_audio(path, rate))
        _, expected = librosa.effects.trim(wave.numpy(), top_db=top_db, frame_length=win,
                                           hop_length=hop)
        assert trim_bounds(wave, top_db, win, hop) == tuple(int(i) for i in expected), path


def test_trim_finds_a_planted_word_and_never_trims_everything():
    rate, win, hop = 16000, 400, 160
    wave = torch.zeros(rate)
    wave[6000:9000] = torch.from_numpy(tone(500.0, rate, 3000 / rate))
    trimmed = trim_silence(wave, 40.0, win, hop, min_length=win)
    start, end = trim_bounds(wave, 40.0, win, hop)
    # frames are centred: a frame counts as speech when its window overlaps the word
    assert 6000 - win // 2 - hop <= start <= 6000 + hop
    assert 9000 - hop <= end <= 9000 + win // 2 + hop
    assert torch.equal(trimmed, wave[start:end])
    silence = torch.zeros(rate)
    assert trim_silence(silence, 40.0, win, hop, min_length=win).shape[0] == rate
    click = torch.zeros(rate)
    click[5000] = 1.0  # one loud sample: kept, padded to one analysis window
    kept = trim_silence(click, 40.0, win, hop, min_length=win)
    assert kept.shape[0] == win and kept.abs().max() == 1.0


def test_speed_perturbation_scales_duration_and_pitch():
    rate = 16000
    x = torch.from_numpy(tone(440.0, rate, 1.0))
    for speed in (0.9, 1.1, 1.25):
        y = speed_perturb(x, rate, speed)
        applied = rate / speed_rate(rate, speed)
        assert abs(applied - speed) < 0.01
        assert abs(y.shape[0] - rate / applied) <= 1
        assert abs(peak_hz(y.numpy(), rate) - 440.0 * applied) < 3.0
    assert torch.equal(speed_perturb(x, rate, 1.0), x)
    assert speed_rate(8000, 0.9) == 8900 and speed_rate(22050, 1.1) == round(22050 / 1.1)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ConfigError, match="speed"):
            speed_rate(16000, bad)
