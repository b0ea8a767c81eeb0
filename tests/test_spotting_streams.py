"""Synthetic spotting streams: every clip at the asked signal-to-noise ratio, whatever the
level it was recorded at."""

import numpy as np
import pytest
import soundfile

from asr.corpora import Utterance
from asr.spotting.streams import make_stream


def _local_snr_db(wave, refs, rate):
    """Per clip: 10 log10(clip power / noise power - 1), the noise measured in the pauses."""
    pause = np.ones(len(wave), dtype=bool)
    for r in refs:
        pause[int(r.start * rate) - 200:int(r.end * rate) + 200] = False
    noise = float((wave[pause].astype(np.float64) ** 2).mean())
    return [10 * np.log10(float((wave[int(r.start * rate):int(r.end * rate)]
                                 .astype(np.float64) ** 2).mean()) / noise - 1) for r in refs]


@pytest.fixture()
def loud_and_quiet(fsdd_dir, tmp_path):
    """Two keyword clips, one recorded 30 dB quieter than the other."""
    out = []
    for i, (name, gain) in enumerate([("0_george_3", 1.0), ("1_lucas_3", 10 ** (-30 / 20))]):
        wave, rate = soundfile.read(fsdd_dir / "recordings" / f"{name}.wav")
        path = tmp_path / f"{name}.wav"
        soundfile.write(path, wave * gain, rate)
        out.append(Utterance(name, path, name[0], f"s{i}", len(wave) / rate))
    return out


def test_every_clip_is_at_the_snr(loud_and_quiet):
    wave, refs = make_stream(loud_and_quiet, 8000, snr_db=20.0, keyword_fraction=0.3, seed=1)
    snr = _local_snr_db(wave, refs, 8000)
    assert len(snr) == 2 and all(17.0 < s < 23.0 for s in snr), snr


def test_keep_levels_leaves_a_quiet_clip_under_the_noise(loud_and_quiet):
    wave, refs = make_stream(loud_and_quiet, 8000, snr_db=20.0, keyword_fraction=0.3, seed=1,
                             equal_levels=False)
    snr = dict(zip((r.word for r in refs), _local_snr_db(wave, refs, 8000), strict=True))
    assert snr["0"] > 20.0 and snr["1"] < 5.0, snr
