r"""Waveform -> feature frames: Kaldi-compatible log-mel / MFCC, deltas and per-utterance CMVN.

The spectral part is :func:`torchaudio.compliance.kaldi.fbank` / ``kaldi.mfcc`` run on the
16-bit integer scale (samples times :math:`2^{15}`) as Kaldi does, so that the energy floor of
the log sits far below any real signal.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import torch
from torchaudio.compliance import kaldi

from asr.errors import AudioError
from asr.features.audio import load_audio, remove_dc, resample, speed_perturb, trim_silence
from asr.features.config import FrontendConfig

INT16_SCALE = 32768.0


def compute_features(
    waveform: torch.Tensor,
    config: FrontendConfig,
    speed: float = 1.0,
    sample_rate: int | None = None,
) -> torch.Tensor:
    r"""Features of an in-memory mono waveform.

    Steps: resample to ``config.sample_rate`` (when ``sample_rate`` is given and differs),
    DC removal, silence trimming, speed perturbation (``speed != 1``), log-mel or MFCC frames,
    deltas, CMVN (see :class:`FrontendConfig` for each formula). With ``cmvn="speaker"`` these
    are the frames before speaker CMVN, which needs the speaker's mean (:func:`speaker_cmvn`,
    :class:`asr.features.online.OnlineCmvn`; :func:`extract_features` applies it to one file).

    Parameters
    ----------
    waveform : torch.Tensor
        ``[samples]`` float samples in :math:`[-1, 1]`.
    config : FrontendConfig
        The front end.
    speed : float
        Speed-perturbation factor (1 = none).
    sample_rate : int, optional
        Rate of ``waveform``; defaults to ``config.sample_rate``.

    Returns
    -------
    torch.Tensor
        float32 ``[frames, config.dim]``.

    Raises
    ------
    AudioError
        The waveform is shorter than one analysis window.

    Examples
    --------
    >>> import math, torch
    >>> cfg = FrontendConfig(sample_rate=8000, kind="logmel", n_mels=23, deltas=1)
    >>> tone = torch.sin(2 * math.pi * 440 * torch.arange(8000) / 8000)
    >>> compute_features(tone, cfg).shape  # 1 + (8000 - 200) // 80 frames
    torch.Size([98, 46])
    """
    with single_thread():
        return _compute(torch.as_tensor(waveform, dtype=torch.float32), config, speed, sample_rate)


@contextlib.contextmanager
def single_thread():
    """Run torch on one intra-op thread inside the block (restored after).

    The tensors of one utterance are tiny; on a busy machine, extra intra-op threads only add
    synchronisation (measured 4x-20x slower with 2 threads than with 1 on 2 shared cores).
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _compute(wave, config, speed, sample_rate):
    if wave.ndim != 1:
        raise AudioError(f"waveform of shape {tuple(wave.shape)}: must be 1-D (mono samples)")
    if sample_rate is not None:
        wave = resample(wave, int(sample_rate), config.sample_rate)
    win = config.win_length
    rate = f"{config.win_ms:g} ms at {config.sample_rate} Hz"
    if wave.shape[0] < win:
        raise AudioError(
            f"audio of {wave.shape[0]} samples is shorter than one analysis window "
            f"({win} samples = {rate})"
        )
    if config.remove_dc:
        wave = remove_dc(wave)
    if config.trim:
        wave = trim_silence(wave, config.trim_db, win, config.hop_length, min_length=win)
    if speed != 1.0:
        wave = speed_perturb(wave, config.sample_rate, speed)
        if wave.shape[0] < win:
            raise AudioError(
                f"audio of {wave.shape[0]} samples after speed {speed:g} is shorter than one "
                f"analysis window ({win} samples = {rate})"
            )
    feats = _spectral(wave, config)
    feats = add_deltas(feats, config.deltas)
    return apply_cmvn(feats, config.cmvn)


def extract_features(
    path: str | os.PathLike,
    config: FrontendConfig,
    speed: float = 1.0,
    speaker_mean: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Features of an audio file, normalized as the model expects, for one utterance.

    :func:`raw_features` then, with ``config.cmvn == "speaker"``, speaker CMVN with
    :math:`\mu_s` = ``speaker_mean`` (the speaker's mean raw feature [D], e.g. from
    :func:`speaker_means` or :class:`asr.features.online.OnlineCmvn`) or, when it is not given,
    the utterance's own mean: the file is a speaker with one utterance (which is ``"meanvar"``).
    Other CMVN modes are per utterance and ``speaker_mean`` must not be given.

    Errors name the file: ``AudioError("x.wav: audio of 12 samples is shorter than ...")``.
    """
    feats = raw_features(path, config, speed=speed)
    if config.cmvn != "speaker":
        if speaker_mean is not None:
            raise ValueError(f"speaker_mean is for cmvn='speaker', not cmvn={config.cmvn!r}")
        return feats
    means = None if speaker_mean is None else {"": torch.as_tensor(speaker_mean)}
    return speaker_cmvn([feats], [""], means)[0]


def raw_features(
    path: str | os.PathLike, config: FrontendConfig, speed: float = 1.0
) -> torch.Tensor:
    """Features of an audio file before any speaker-level step: :func:`load_audio` then
    :func:`compute_features` (per-utterance CMVN applied; with ``cmvn="speaker"`` the frames
    before speaker CMVN, which needs the speaker's other utterances). The feature cache holds
    these.

    Errors name the file: ``AudioError("x.wav: audio of 12 samples is shorter than ...")``.
    """
    with single_thread():
        wave = load_audio(path, config.sample_rate)
        try:
            return compute_features(wave, config, speed=speed)
        except AudioError as exc:
            raise AudioError(f"{path}: {exc}") from None


def _spectral(wave: torch.Tensor, config: FrontendConfig) -> torch.Tensor:
    common = dict(
        frame_length=config.win_ms,
        frame_shift=config.hop_ms,
        sample_frequency=float(config.sample_rate),
        num_mel_bins=config.n_mels,
        low_freq=float(config.fmin),
        high_freq=0.0 if config.fmax is None else float(config.fmax),
        dither=float(config.dither),
        preemphasis_coefficient=float(config.preemphasis),
        remove_dc_offset=config.remove_dc,
        window_type=config.window,
        snip_edges=True,
    )
    scaled = (wave * INT16_SCALE)[None]
    if config.kind == "mfcc":
        feats = kaldi.mfcc(scaled, num_ceps=config.n_mfcc, cepstral_lifter=float(config.lifter),
                           **common)
    else:
        feats = kaldi.fbank(scaled, **common)
    return feats.to(torch.float32)


def add_deltas(feats: torch.Tensor, order: int, win_length: int = 5) -> torch.Tensor:
    r"""Append ``order`` levels of regression deltas, ``[T, D] -> [T, D * (1 + order)]``.

    :math:`d_t = \sum_{n=1}^{N} n (c_{t+n} - c_{t-n}) / (2 \sum_{n=1}^{N} n^2)` with
    :math:`N = (\text{win\_length} - 1) / 2` and edge frames replicated (what
    :func:`torchaudio.functional.compute_deltas` computes, by a convolution that costs more than
    this arithmetic on one utterance); delta-deltas are the deltas of :math:`d`.
    """
    if win_length < 3 or win_length % 2 == 0:
        raise ValueError(f"win_length must be odd and >= 3, got {win_length}")
    n = (win_length - 1) // 2
    denom = 2.0 * sum(k * k for k in range(1, n + 1))
    blocks = [feats]
    for _ in range(order):
        x = blocks[-1]
        frames = x.shape[0]
        p = torch.cat([x[:1].expand(n, -1), x, x[-1:].expand(n, -1)])
        d = sum(k * (p[n + k:n + k + frames] - p[n - k:n - k + frames]) for k in range(1, n + 1))
        blocks.append(d / denom)
    return torch.cat(blocks, dim=1) if order else feats


def apply_cmvn(feats: torch.Tensor, mode: str, eps: float = 1e-5) -> torch.Tensor:
    r"""Per-utterance normalization of ``[T, D]`` frames.

    ``"mean"``: :math:`x_t - \mu`; ``"meanvar"``: :math:`(x_t - \mu) / \max(\sigma, \epsilon)`,
    with :math:`\mu = \frac{1}{T}\sum_t x_t` and :math:`\sigma^2 = \frac{1}{T}\sum_t (x_t-\mu)^2`
    per dimension; ``"none"`` and ``"speaker"``: unchanged (speaker CMVN needs the speaker's
    other utterances: :func:`speaker_cmvn`).
    """
    if mode in ("none", "speaker"):
        return feats
    centred = feats - feats.mean(dim=0, keepdim=True)
    if mode == "mean":
        return centred
    std = centred.pow(2).mean(dim=0, keepdim=True).sqrt()
    return centred / std.clamp_min(eps)


def speaker_means(features: Sequence[torch.Tensor], speakers: Sequence[str],
                  prior: dict | None = None) -> dict:
    r"""Mean feature vector ``[D]`` of each speaker over all frames of its utterances.

    With a ``prior`` (``{"mean": Tensor [D], "prior_frames": tau}``, the training set's mean
    raw feature that an experiment stores), the prior counts as :math:`\tau` frames:
    :math:`\mu_s = (\tau \mu_0 + \sum_{u \in s} \sum_t x^{(u)}_t) / (\tau + N_s)`, the
    formula of online CMVN (:class:`asr.features.OnlineCmvn`) once all of ``s`` is heard.
    """
    sums, counts = {}, {}
    for feats, speaker in zip(features, speakers, strict=True):
        sums[speaker] = sums.get(speaker, 0.0) + feats.double().sum(dim=0)
        counts[speaker] = counts.get(speaker, 0) + feats.shape[0]
    if prior is not None and prior.get("mean") is not None:
        tau = float(prior.get("prior_frames", 0.0))
        base = tau * torch.as_tensor(prior["mean"], dtype=torch.float64)
        return {s: ((base + sums[s]) / (tau + counts[s])).float() for s in sums}
    return {s: (sums[s] / counts[s]).float() for s in sums}


def speaker_cmvn(
    features: Sequence[torch.Tensor],
    speakers: Sequence[str],
    means: dict | None = None,
    eps: float = 1e-5,
    prior: dict | None = None,
) -> list[torch.Tensor]:
    r"""Speaker CMVN (``cmvn="speaker"``): the speaker's mean out, the utterance's own scale.

    .. math::

        x_t \leftarrow (x_t - \mu_s) / \max(\sigma_u, \epsilon),

    with :math:`\mu_s` the mean over every frame of every utterance of speaker :math:`s` in
    ``features`` (or ``means[s]`` when given; with a ``prior``, the training mean counted as
    :math:`\tau` more frames: :func:`speaker_means`) and :math:`\sigma_u` the standard
    deviation of utterance :math:`u` about its own mean, per dimension. Removing the speaker's
    (and channel's) mean rather than each utterance's keeps what a word's mean spectrum says
    about the word; scaling by the utterance's own deviation removes its level and dynamic
    range. A speaker's mean is estimated from whatever of its speech is at hand: all its
    utterances in a manifest (batch, transductive), or a single utterance (the strict
    one-utterance case: with a prior, :math:`(\tau\mu_0 + \sum_t x_t) / (\tau + T)`, what
    online CMVN gives a new speaker's first utterance; without, ``"meanvar"``).
    """
    features = list(features)
    if means is None:
        means = speaker_means(features, speakers, prior)
    out = []
    for feats, speaker in zip(features, speakers, strict=True):
        std = feats.std(dim=0, correction=0, keepdim=True).clamp_min(eps)
        out.append((feats - means[speaker]) / std)
    return out


def finish_cmvn(
    features: Sequence[torch.Tensor], speakers: Sequence[str], config: FrontendConfig,
    prior: dict | None = None,
) -> list[torch.Tensor]:
    """The normalization that needs more than one utterance: speaker CMVN when
    ``config.cmvn == "speaker"`` (:func:`speaker_cmvn`, with the experiment's ``prior`` when
    given), nothing otherwise (per-utterance CMVN is already in every utterance's features)."""
    if config.cmvn != "speaker":
        return list(features)
    return speaker_cmvn(features, speakers, prior=prior)
