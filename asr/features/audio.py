r"""Waveform I/O and time-domain processing: load, down-mix, resample, DC removal, trimming, speed.

Every function takes and returns 1-D float32 tensors of samples in :math:`[-1, 1]`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from asr.errors import AudioError, ConfigError


def load_audio(path: str | os.PathLike, sample_rate: int) -> torch.Tensor:
    r"""Read an audio file (wav, flac, ogg: anything soundfile reads) as mono at ``sample_rate``.

    Channels are averaged, :math:`x_n = \frac{1}{C}\sum_c x_{n,c}`, then the signal is resampled
    with :func:`torchaudio.functional.resample` (windowed-sinc polyphase filter) when its rate
    differs.

    Parameters
    ----------
    path : str or path-like
        The audio file.
    sample_rate : int
        The rate (Hz) wanted.

    Returns
    -------
    torch.Tensor
        float32 samples, shape ``[samples]``.

    Raises
    ------
    AudioError
        The file is missing, empty, not audio, unreadable, has no samples, or holds NaN/inf.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such audio file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes), not audio")
    try:
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, EOFError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise AudioError(f"{path}: not a readable audio file (soundfile: {reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    wave = torch.from_numpy(data.mean(axis=1, dtype=np.float32))
    return resample(wave, int(file_rate), sample_rate)


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample a 1-D waveform with :func:`torchaudio.functional.resample` (no-op if equal)."""
    if orig_rate == new_rate:
        return wave
    return AF.resample(wave, orig_rate, new_rate)


def remove_dc(wave: torch.Tensor) -> torch.Tensor:
    r"""Subtract the mean, :math:`x_n - \frac{1}{N}\sum_m x_m` (a constant offset is not speech)."""
    return wave - wave.mean()


def trim_bounds(
    wave: torch.Tensor, top_db: float, frame_length: int, hop_length: int
) -> tuple[int, int]:
    r"""Start and end sample of the non-silent part, as :func:`librosa.effects.trim` computes them.

    Frames of ``frame_length`` samples every ``hop_length`` samples, centred (zero padding of
    ``frame_length // 2`` at both ends), get the level
    :math:`L_k = 10 \log_{10} \max(10^{-10}, \overline{x^2}_k)`; frame :math:`k` is speech when
    :math:`L_k > \max_j L_j - \text{top\_db}`. The bounds are ``first * hop`` and
    ``min(N, (last + 1) * hop)``. The loudest frame is always speech, so something is always kept
    (an all-zero signal is kept whole).

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(1000); x[400:600] = 0.5
    >>> trim_bounds(x, 40.0, 100, 50)
    (400, 650)
    """
    n = wave.shape[-1]
    pad = frame_length // 2
    padded = torch.nn.functional.pad(wave.double()[None], (pad, pad))[0]
    if padded.shape[0] < frame_length:
        return 0, n
    frames = padded.unfold(0, frame_length, hop_length)
    level = 10.0 * torch.log10(frames.pow(2).mean(dim=1).clamp_min(1e-10))
    speech = torch.nonzero(level > level.max() - top_db).flatten()
    start = int(speech[0]) * hop_length
    end = min(n, (int(speech[-1]) + 1) * hop_length)
    return start, end


def trim_silence(
    wave: torch.Tensor, top_db: float, frame_length: int, hop_length: int, min_length: int = 0
) -> torch.Tensor:
    """Cut leading/trailing silence (see :func:`trim_bounds`), keeping at least ``min_length``.

    When the non-silent part is shorter than ``min_length`` samples, a window of ``min_length``
    samples centred on it is kept instead (bounded by the signal).
    """
    n = wave.shape[-1]
    start, end = trim_bounds(wave, top_db, frame_length, hop_length)
    if end - start < min_length:
        keep = min(min_length, n)
        start = max(0, min((start + end) // 2 - keep // 2, n - keep))
        end = start + keep
    return wave[start:end]


def speed_rate(sample_rate: int, speed: float) -> int:
    r"""The rate to resample to for a speed factor (see :func:`speed_perturb`).

    :math:`r' = \mathrm{round}(r / s)`, rounded to a multiple of 100 Hz when :math:`r` is one,
    so that :math:`r / \gcd(r, r')` stays small and the polyphase kernel cheap (an exact
    8000 -> 8889 kernel takes seconds to build; 8000 -> 8900 takes half a millisecond). The
    speed actually applied is :math:`r / r'`.

    Examples
    --------
    >>> speed_rate(8000, 0.9), speed_rate(16000, 1.1), speed_rate(16000, 1.0)
    (8900, 14500, 16000)
    """
    if not isinstance(speed, int | float) or not math.isfinite(speed) or speed <= 0:
        raise ConfigError(f"speed={speed!r}: must be a positive number")
    target = sample_rate / speed
    if sample_rate % 100 == 0:
        return max(100, int(round(target / 100.0)) * 100)
    return max(1, int(round(target)))


def speed_perturb(wave: torch.Tensor, sample_rate: int, speed: float) -> torch.Tensor:
    r"""Play the waveform ``speed`` times faster (tempo and pitch), the "resample trick".

    The signal is resampled from :math:`r` to :math:`r' \approx r / s` (:func:`speed_rate`) and
    the result read as if sampled at :math:`r`: duration is multiplied by :math:`r'/r \approx
    1/s` and every frequency by :math:`r/r' \approx s` (Ko et al., 2015, "Audio augmentation
    for speech recognition").
    """
    return resample(wave, sample_rate, speed_rate(sample_rate, speed))
