"""Feature-domain data augmentation for training: band warping, SpecAugment masks, noise.

Speed perturbation happens before features (``extract_features(..., speed=s)``, precomputed
through the feature cache); what is here acts on a feature matrix [T, D] laid out as
``deltas + 1`` blocks of ``D / (deltas + 1)`` static channels (static, delta, delta-delta).

- :func:`warp_bands`: vocal-tract-length perturbation (Jaitly & Hinton, 2013) on log-mel bands.
  Band :math:`i` (centre frequency :math:`f_i`) takes the value the unwarped spectrum has at
  :math:`f_i / \\alpha`, by linear interpolation between neighbouring bands; formants move by the
  factor :math:`\\alpha`. Interpolation is linear, so it commutes with deltas and mean
  normalization and each block is warped alike.
- :func:`cepstral_warp`: the same warp on MFCCs, as one linear map of the cepstra. Kaldi's
  cepstra are :math:`c = L D m` (:math:`m` the log-mel bands, :math:`D` the orthonormal DCT-II
  truncated to the cepstra kept, :math:`L` the lifter); the envelope they keep is
  :math:`\\hat m = D^\\top L^{-1} c`, so the warped cepstra are
  :math:`c' = L D W_\\alpha D^\\top L^{-1} c`, with :math:`W_\\alpha` the band interpolation
  above. Being linear and the same for every frame, it commutes with deltas and mean
  normalization too.
- :func:`spec_augment`: SpecAugment-style masks (Park et al., 2019): a few runs of frames and of
  channels (the same channels in every block) are set to the mean of the features as the model
  sees them: 0 for per-utterance-normalized features, the training set's mean (``fill``) when the
  model standardizes raw features itself (``model.input_norm="global"``), so that a masked value
  lands on 0 after standardization, never many deviations away from it.
- Gaussian noise of a given standard deviation on every feature.
- :class:`NoisyFeatures`: additive coloured noise at a random SNR, in the waveform domain
  (features recomputed on the fly, about 1 ms per utterance).
- :func:`random_crop`: drop a few frames at the start and at the end, as a tighter endpointer
  or a recording that starts late would (a weak initial /t/ or /f/ cut off), so that the model
  does not lean on the exact onset.
"""

import numpy as np
import torch


class Augmenter:
    """Draws and applies the feature-domain augmentation of one training utterance.

    Parameters
    ----------
    frontend : FrontendConfig
        Tells the layout (``dim``, ``deltas``) and, for band warping, the mel bands.
    vtlp : float
        Warp factors :math:`\\alpha` uniform in :math:`[1 - \\text{vtlp}, 1 + \\text{vtlp}]`;
        0 turns warping off. Log-mel bands are warped by :func:`warp_bands`, MFCCs by
        :func:`cepstral_warp`.
    time_masks, time_width, freq_masks, freq_width : int
        Number of masks and their largest width (frames, static channels).
    noise : float
        Standard deviation of additive Gaussian noise on the features.
    crop : int
        Drop up to this many frames at each end (:func:`random_crop`).
    channel : float
        Standard deviation :math:`\\sigma_c` of a channel offset: one draw
        :math:`c \\sim \\mathcal N(0, \\sigma_c^2 I)` per utterance, added to every frame's static
        coefficients, :math:`x_t \\leftarrow x_t + c` (deltas unchanged). A microphone's or a
        room's frequency response, or a speaker's mean spectrum, shifts log-mel and cepstral
        frames by about such a constant; what normalization from one utterance and a prior does
        not remove of it, the model learns to ignore.
    fill : Tensor [D], optional
        The value a masked feature takes: the mean the model subtracts when it standardizes its
        input (``Recognizer.input_mean`` under ``model.input_norm="global"``); default 0, the
        mean of per-utterance-normalized features.
    """

    def __init__(self, frontend, vtlp=0.0, time_masks=0, time_width=0, freq_masks=0,
                 freq_width=0, noise=0.0, crop=0, fill=None, channel=0.0):
        self.blocks = int(getattr(frontend, "deltas", 0)) + 1
        self.static = frontend.dim // self.blocks
        self.vtlp = float(vtlp)
        self.kind = frontend.kind
        self.time_masks, self.time_width = int(time_masks), int(time_width)
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        self.noise = float(noise)
        self.crop = int(crop)
        self.channel = float(channel)
        self.fill = None if fill is None else torch.as_tensor(fill, dtype=torch.float32)
        self._mel = None
        if self.vtlp > 0:
            import librosa

            # the front end's filters are equally spaced on Kaldi's (HTK) mel scale
            fmax = frontend.fmax if frontend.fmax is not None else frontend.sample_rate / 2
            bands = frontend.n_mels
            edges = librosa.mel_frequencies(bands + 2, fmin=frontend.fmin, fmax=fmax, htk=True)
            self._centres = edges[1:-1]
            self._mel = librosa.hz_to_mel(self._centres, htk=True)
            if self.kind == "mfcc":
                self._dct, self._lifter = kaldi_cepstra(frontend.n_mfcc, bands, frontend.lifter)

    @property
    def active(self) -> bool:
        """Whether any augmentation is switched on."""
        return bool(self.vtlp > 0 or self.crop > 0 or (self.time_masks and self.time_width)
                    or (self.freq_masks and self.freq_width) or self.noise > 0
                    or self.channel > 0)

    def __call__(self, features: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Return an augmented copy of ``features`` [T, D] (the input is never modified)."""
        x = features
        if self.crop > 0:
            x = random_crop(x, rng, self.crop)
        if self.channel > 0:
            offset = np.zeros(x.shape[1], dtype=np.float32)
            offset[:self.static] = rng.standard_normal(self.static) * self.channel
            x = x + torch.from_numpy(offset)
        if self.vtlp > 0:
            positions = self._band_positions(rng.uniform(1 - self.vtlp, 1 + self.vtlp))
            if self.kind == "mfcc":
                x = cepstral_warp(x, positions, self._dct, self._lifter, self.blocks)
            else:
                x = warp_bands(x, positions, self.blocks)
        if (self.time_masks and self.time_width) or (self.freq_masks and self.freq_width):
            x = spec_augment(x, rng, self.blocks, self.time_masks, self.time_width,
                             self.freq_masks, self.freq_width, self.fill)
        if self.noise > 0:
            noise = rng.standard_normal(x.shape).astype(np.float32) * self.noise
            x = x + torch.from_numpy(noise)
        return x

    def _band_positions(self, alpha: float) -> np.ndarray:
        """Fractional band index whose value band ``i`` takes under the warp by ``alpha``."""
        import librosa

        source = librosa.hz_to_mel(self._centres / alpha, htk=True)
        return np.interp(source, self._mel, np.arange(len(self._mel), dtype=np.float64))


def kaldi_cepstra(num_ceps: int, bands: int, lifter: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The DCT :math:`D` [num_ceps, bands] (orthonormal rows) and lifter :math:`L` [num_ceps] of
    Kaldi's MFCCs (``torchaudio.compliance.kaldi.mfcc``): :math:`c = L \\odot (D m)`."""
    import math

    import torchaudio

    dct = torchaudio.functional.create_dct(bands, bands, "ortho")[:, :num_ceps].T.contiguous()
    dct[0] = math.sqrt(1.0 / bands)
    i = torch.arange(num_ceps, dtype=torch.float32)
    lift = (1.0 + 0.5 * lifter * torch.sin(math.pi * i / lifter) if lifter
            else torch.ones(num_ceps))
    return dct, lift


def cepstral_warp(features: torch.Tensor, positions: np.ndarray, dct: torch.Tensor,
                  lifter: torch.Tensor, blocks: int = 1) -> torch.Tensor:
    """Warp MFCC frames [T, D] as :func:`warp_bands` warps their log-mel envelope (see the module
    docstring): each block's cepstra times :math:`(L D W D^\\top L^{-1})^\\top`, with
    :math:`W` the interpolation of the bands at ``positions``.

    With ``positions = arange(bands)`` (no warp) it is the identity.
    """
    bands = dct.shape[1]
    warp = warp_bands(torch.eye(bands, dtype=torch.float64), positions).T  # W: y = W m
    d = dct.double()
    lift = lifter.double()
    mapping = (lift[:, None] * (d @ warp @ d.T)) / lift[None, :]  # c' = mapping @ c
    static = features.shape[1] // blocks
    if static != d.shape[0]:
        raise ValueError(f"{static} cepstra per block, the front end keeps {d.shape[0]}")
    m = mapping.T.to(features.dtype)
    return torch.cat([features[:, b * static:(b + 1) * static] @ m for b in range(blocks)], 1)


def warp_bands(features: torch.Tensor, positions: np.ndarray, blocks: int = 1) -> torch.Tensor:
    """Resample each block's channels at fractional ``positions`` by linear interpolation.

    .. math:: y_{t, i} = (1 - \\phi_i)\\, x_{t, \\lfloor p_i \\rfloor}
              + \\phi_i\\, x_{t, \\lfloor p_i \\rfloor + 1},
              \\qquad \\phi_i = p_i - \\lfloor p_i \\rfloor

    Parameters
    ----------
    features : Tensor [T, D]
    positions : array [D / blocks]
        Source position of each output channel, within ``[0, D / blocks - 1]``.
    blocks : int
        Number of equal channel blocks (static, deltas), each warped alike.

    Examples
    --------
    >>> x = torch.tensor([[0.0, 10.0, 20.0]])
    >>> warp_bands(x, np.array([0.0, 0.5, 2.0]))
    tensor([[ 0.,  5., 20.]])
    """
    static = features.shape[1] // blocks
    pos = np.clip(np.asarray(positions, dtype=np.float64), 0, static - 1)
    low = np.minimum(np.floor(pos).astype(np.int64), static - 1)
    high = np.minimum(low + 1, static - 1)
    frac = torch.from_numpy((pos - low).astype(np.float32)).to(features.dtype)
    offsets = np.repeat(np.arange(blocks) * static, static)
    low_t = torch.from_numpy(np.tile(low, blocks) + offsets)
    high_t = torch.from_numpy(np.tile(high, blocks) + offsets)
    frac = frac.repeat(blocks)
    return features[:, low_t] * (1 - frac) + features[:, high_t] * frac


def spec_augment(features: torch.Tensor, rng: np.random.Generator, blocks: int = 1,
                 time_masks: int = 2, time_width: int = 5, freq_masks: int = 2,
                 freq_width: int = 4, fill: torch.Tensor | None = None) -> torch.Tensor:
    """Mask ``time_masks`` runs of up to ``time_width`` frames and ``freq_masks`` runs of up to
    ``freq_width`` static channels (the same channels in each of the ``blocks``).

    A masked entry of channel ``d`` takes the value ``fill[d]`` (default 0: the mean of
    normalized features). A run never covers more than half the frames of the utterance.
    """
    x = features.clone()
    fill = torch.zeros(x.shape[1], dtype=x.dtype) if fill is None else fill.to(x.dtype)
    frames, static = x.shape[0], x.shape[1] // blocks
    for _ in range(time_masks):
        width = int(rng.integers(0, min(time_width, frames // 2) + 1))
        if width:
            start = int(rng.integers(0, frames - width + 1))
            x[start:start + width] = fill
    for _ in range(freq_masks):
        width = int(rng.integers(0, min(freq_width, static) + 1))
        if width:
            start = int(rng.integers(0, static - width + 1))
            for b in range(blocks):
                cols = slice(b * static + start, b * static + start + width)
                x[:, cols] = fill[cols]
    return x


def random_crop(features: torch.Tensor, rng: np.random.Generator, max_frames: int) -> torch.Tensor:
    """Drop ``a`` frames at the start and ``b`` at the end, ``a, b`` uniform in
    ``[0, max_frames]``, keeping at least half of the frames (and at least one)."""
    frames = features.shape[0]
    limit = min(max_frames, (frames // 2) // 2)
    if limit <= 0:
        return features
    a, b = (int(v) for v in rng.integers(0, limit + 1, size=2))
    return features[a:frames - b]


class NoisyFeatures:
    """Features of training utterances with additive noise, computed on the fly.

    A waveform is read from disk when asked for (they are never all kept in memory: memory does
    not grow with the corpus), DC-removed and silence-trimmed as the front end would. Coloured
    Gaussian noise is added at a signal-to-noise ratio drawn uniformly in ``snr`` (dB, relative
    to the mean power of the trimmed utterance) and the
    features are computed without trimming again, so the result looks like a tightly cut noisy
    recording (as some sessions of a corpus are):

    .. math:: \\tilde x_n = x_n + \\sigma\\, v_n, \\quad
              v_n = \\epsilon_n + \\rho\\, v_{n-1}, \\quad
              \\sigma^2 = \\frac{\\overline{x^2}}{\\overline{v^2}}\\, 10^{-\\text{SNR}/10},

    with :math:`\\epsilon` white and :math:`\\rho` uniform in [-0.9, 0.9] (from bright to dull).

    Parameters
    ----------
    utterances : list of Utterance
    frontend : FrontendConfig
    snr : (float, float)
        Range of SNRs in dB.
    speaker_means : dict, optional
        ``{speed: {speaker: mean}}`` for ``frontend.cmvn == "speaker"``: a noisy copy is
        normalized with the mean of its speaker's clean utterances at that speed
        (:func:`asr.features.speaker_cmvn`).
    """

    def __init__(self, utterances, frontend, snr=(5.0, 25.0), speaker_means=None):
        import dataclasses

        self.frontend = frontend
        self.untrimmed = dataclasses.replace(frontend, trim=False)
        self.snr = (float(snr[0]), float(snr[1]))
        self.paths = [utt.path for utt in utterances]
        self.speakers = [utt.speaker for utt in utterances]
        self.speaker_means = speaker_means

    def wave(self, index: int) -> torch.Tensor:
        """The DC-removed, trimmed waveform of utterance ``index``, read from disk now."""
        from asr.features import load_audio, trim_silence

        frontend = self.frontend
        wave = load_audio(self.paths[index], frontend.sample_rate)
        if frontend.remove_dc:
            wave = wave - wave.mean()
        if frontend.trim:
            wave = trim_silence(wave, frontend.trim_db, frontend.win_length,
                                frontend.hop_length, min_length=frontend.win_length)
        return wave

    def __call__(self, index: int, speed: float, rng: np.random.Generator) -> torch.Tensor:
        """Features [T, D] of utterance ``index`` at ``speed`` with fresh noise."""
        import torchaudio.functional as AF

        from asr.features import compute_features, speaker_cmvn

        wave = self.wave(index)
        white = torch.from_numpy(rng.standard_normal(wave.shape[0]))
        rho = rng.uniform(-0.9, 0.9)
        noise = AF.lfilter(white, torch.tensor([1.0, -rho], dtype=torch.float64),
                           torch.tensor([1.0, 0.0], dtype=torch.float64), clamp=False)
        snr = rng.uniform(*self.snr)
        power = float(wave.double().pow(2).mean())
        scale = np.sqrt(power / max(float(noise.pow(2).mean()), 1e-12) * 10 ** (-snr / 10))
        noisy = wave + (scale * noise).float()
        feats = compute_features(noisy, self.untrimmed, speed=speed)
        if self.frontend.cmvn == "speaker":
            feats = speaker_cmvn([feats], [self.speakers[index]], self.speaker_means[speed])[0]
        return feats


class OnlineCmvnSimulator:
    r"""Speaker CMVN as an online recognizer meets it, drawn afresh for every training utterance.

    A deployed recognizer normalizes an utterance of a new speaker from a prior and whatever of
    that speaker it has heard before (:class:`asr.features.OnlineCmvn`): nothing for the first
    utterance (the strict one-utterance case), more and more later. Training with batch speaker
    CMVN only ever shows the last case. Here each time utterance :math:`u` of speaker :math:`s`
    is drawn, a history size :math:`h` is drawn uniformly in :math:`\{0, \dots, H\}`, :math:`h`
    other utterances :math:`v` of :math:`s` (same speed copy) are drawn without replacement, and

    .. math::

        \hat\mu_u = \frac{\tau \mu_0 + \sum_{v} \sum_t x^{(v)}_t + \sum_t x^{(u)}_t}
                         {\tau + \sum_v T_v + T_u}, \qquad
        x^{(u)}_t \leftarrow \frac{x^{(u)}_t - \hat\mu_u}{\max(\sigma_u, \epsilon)},

    the formula of :class:`asr.features.OnlineCmvn` with the current utterance included (prior
    mean :math:`\mu_0` counted as :math:`\tau` frames, :math:`\sigma_u` the utterance's own
    deviation). :math:`H = 0` trains in the strict condition only.

    Parameters
    ----------
    features : list (one per speed) of list of Tensor [T_i, D]
        Raw (not yet speaker-normalized) training features.
    speakers : list of str
        Speaker of each utterance.
    prior_mean : Tensor [D]
        :math:`\mu_0`, the training set's mean raw feature.
    prior_frames : float
        :math:`\tau`.
    max_history : int
        :math:`H`.
    """

    def __init__(self, features, speakers, prior_mean, prior_frames, max_history, eps=1e-5):
        self.features = features
        self.prior = float(prior_frames) * torch.as_tensor(prior_mean, dtype=torch.float64)
        self.prior_frames = float(prior_frames)
        self.max_history = int(max_history)
        self.eps = eps
        self.sums = [torch.stack([f.double().sum(dim=0) for f in feats]) for feats in features]
        self.frames = [np.array([f.shape[0] for f in feats], dtype=np.float64)
                       for feats in features]
        by_speaker = {}
        for i, s in enumerate(speakers):
            by_speaker.setdefault(s, []).append(i)
        self.peers = [np.array([j for j in by_speaker[s] if j != i], dtype=np.int64)
                      for i, s in enumerate(speakers)]

    def __call__(self, index: int, speed: int, rng: np.random.Generator) -> torch.Tensor:
        """Normalized features of utterance ``index`` at speed copy ``speed`` (an index)."""
        x = self.features[speed][index]
        peers = self.peers[index]
        h = min(int(rng.integers(0, self.max_history + 1)), len(peers)) if len(peers) else 0
        total = self.prior + self.sums[speed][index]
        count = self.prior_frames + self.frames[speed][index]
        if h:
            chosen = rng.choice(peers, size=h, replace=False)
            total = total + self.sums[speed][chosen].sum(dim=0)
            count += float(self.frames[speed][chosen].sum())
        mean = (total / count).to(x.dtype)
        std = x.std(dim=0, correction=0, keepdim=True).clamp_min(self.eps)
        return (x - mean) / std
