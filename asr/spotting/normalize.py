r"""Speaker CMVN on a stream: the speaker's mean from the prior and the speech heard so far.

A model trained with ``frontend.cmvn=speaker`` expects each utterance minus its speaker's mean
(:func:`asr.features.frontend.speaker_cmvn`), divided by the utterance's own standard deviation,
both taken over the frames of silence-trimmed clips. A stream has no clips: most of it is pause
and background noise, whose frames would drag a plain running mean far from the speech's. So
only frames that are speech update the statistics, and every frame is normalized with them.

**Speech.** Frame :math:`t` is speech when its level :math:`e_t` (the mean log mel energy per
band: :math:`c_0 / \sqrt{M}` for Kaldi MFCC with :math:`M` mel bands, the mean of the log-mel
bands otherwise) exceeds the stream's noise floor, the minimum of :math:`e` over the last
:math:`F` frames, by a margin of :math:`m` dB (:math:`m \ln 10 / 10` in these units).

**Mean.** From the prior (the training features' mean :math:`\mu_0`, counted as :math:`\tau`
frames: the weight online CMVN gives it) and the speech frames so far, cumulatively,

.. math::

    \mu_t = \mu_{t-1} + (x_t - \mu_{t-1}) / n_t, \qquad n_t = \min(n_{t-1} + 1, N_\mu),
    \quad n_0 = \tau,

that is :math:`(\tau\mu_0 + \sum x) / (\tau + n)` as for a speaker's clips, until :math:`N_\mu`
frames, then an exponential mean of time constant :math:`N_\mu` (a new voice takes over).

**Scale.** The clip's own deviation becomes that of the last :math:`N_\sigma` speech frames
(about a word) about their own running mean :math:`m_t`:
:math:`s^2_t = s^2_{t-1} + ((x_t - m_t)^2 - s^2_{t-1}) / k_t`, :math:`k_t = \min(k_{t-1} + 1,
N_\sigma)`; before the first speech frame, that of every frame so far.

Frame :math:`t` becomes :math:`(x_t - \mu_t) / \max(s_t, \epsilon)`, using only the past and
present, so a stream in chunks of any size gives the same numbers.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# chosen on a validation stream (docs/experiments.md, eighth session)
FLOOR_FRAMES = 300      # noise floor: minimum level over the last 3 s
MARGIN_DB = 5.0         # speech: at least this far above the floor
MEAN_FRAMES = 6000      # the speaker's mean: cumulative up to 60 s of speech, then exponential
SCALE_FRAMES = 100      # the scale: about the last second of speech


class SpeechGate:
    """Which frames of a stream are speech: level above the sliding noise floor by a margin
    (see the module docstring), frame by frame.

    Parameters
    ----------
    config : asr.features.FrontendConfig
        ``kind`` and ``n_mels`` say which coefficients give the level.
    """

    def __init__(self, config, margin_db: float = MARGIN_DB, floor_frames: int = FLOOR_FRAMES):
        self.kind, self.n_mels = config.kind, config.n_mels
        self.margin = margin_db * np.log(10.0) / 10.0
        self.floor_frames = int(floor_frames)
        self.frames = 0
        self._floor = deque()   # (frame, level), levels increasing: the sliding minimum

    def level(self, x: np.ndarray) -> float:
        """Mean log mel energy per band of a (raw) feature frame."""
        if self.kind == "mfcc":
            return float(x[0]) / np.sqrt(self.n_mels)
        return float(x[:self.n_mels].mean())

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """Speech flags ``[n]`` of the next ``[n, D]`` raw frames of the stream."""
        out = np.zeros(len(feats), dtype=bool)
        floor = self._floor
        for i, x in enumerate(feats):
            e, t = self.level(x), self.frames
            while floor and floor[-1][1] >= e:
                floor.pop()
            floor.append((t, e))
            while floor[0][0] <= t - self.floor_frames:
                floor.popleft()
            self.frames += 1
            out[i] = e > floor[0][1] + self.margin
        return out


class StreamSpeakerCmvn:
    """Speech-gated running speaker CMVN (see the module docstring), frame by frame.

    Parameters
    ----------
    prior : dict, optional
        ``{"mean": [D], "prior_frames": tau}`` (:func:`asr.inference.cmvn_prior`); without it
        the mean starts from the first speech frame.
    """

    def __init__(self, prior=None, mean_frames: int = MEAN_FRAMES,
                 scale_frames: int = SCALE_FRAMES, eps: float = 1e-5):
        self.mean_frames = float(mean_frames)
        self.scale_frames = float(scale_frames)
        self.eps = eps
        self.prior_mean = None if prior is None or prior.get("mean") is None else \
            np.asarray(prior["mean"], dtype=np.float64)
        self.prior_frames = 0.0 if self.prior_mean is None else float(prior["prior_frames"])
        self.mean = None
        self.weight = 0.0       # n_t
        self.local_mean = None  # m_t
        self.var = None         # s_t^2
        self.count = 0.0        # k_t
        self.speech_frames = 0

    def __call__(self, feats: np.ndarray, speech: np.ndarray) -> np.ndarray:
        """Normalize the next ``[n, D]`` raw frames of the stream, given their speech flags
        (:class:`SpeechGate`); the speaker's mean after each frame is then in
        ``self.frame_means``."""
        out = np.empty(feats.shape, dtype=np.float32)
        self.frame_means = np.empty(feats.shape, dtype=np.float32)
        for t, x in enumerate(np.asarray(feats, dtype=np.float64)):
            if self.mean is None:
                self.mean = x.copy() if self.prior_mean is None else self.prior_mean.copy()
                self.weight = 0.0 if self.prior_mean is None else self.prior_frames
                self.local_mean, self.var = x.copy(), np.zeros_like(x)
            if speech[t]:
                self.speech_frames += 1
                self.weight = min(self.weight + 1.0, self.mean_frames)
                self.mean += (x - self.mean) / self.weight
                if self.speech_frames == 1:  # the scale of speech from now on
                    self.count, self.local_mean = 0.0, x.copy()
            if speech[t] or self.speech_frames == 0:
                self.count = min(self.count + 1.0, self.scale_frames)
                self.local_mean += (x - self.local_mean) / self.count
                self.var += ((x - self.local_mean) ** 2 - self.var) / self.count
            scale = np.maximum(np.sqrt(self.var), self.eps) if self.count > 1 else np.inf
            out[t] = (x - self.mean) / scale
            self.frame_means[t] = self.mean
        return out
