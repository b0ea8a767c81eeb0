"""The front-end configuration: every parameter of the feature pipeline in one dataclass."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from asr.errors import ConfigError

KINDS = ("mfcc", "logmel")
CMVN_MODES = ("mean", "meanvar", "speaker", "none")
WINDOWS = ("povey", "hamming", "hanning", "rectangular", "blackman")
FLOAT_FIELDS = ("win_ms", "hop_ms", "fmin", "fmax", "trim_db", "dither", "preemphasis", "lifter")


@dataclass(frozen=True)
class FrontendConfig:
    r"""Settings of the fixed front end (audio -> feature frames), saved with every experiment.

    The pipeline is: read and down-mix, resample to ``sample_rate``, remove the DC offset,
    trim leading/trailing silence, optionally change speed, compute Kaldi-compatible log-mel
    filterbank or MFCC frames (:mod:`torchaudio.compliance.kaldi`), append deltas, normalize
    each utterance (CMVN).

    Parameters
    ----------
    sample_rate : int
        Rate (Hz) the front end runs at; any input is resampled to it. Default 16 kHz.
        For 8 kHz corpora such as FSDD, run the front end at 8000 with ``fmax`` 4000 (or None):
        resampling 8 kHz audio up to 16 kHz adds no information and leaves the 4-8 kHz band
        empty, so a third of the mel filters would only see resampling noise.
    kind : {"mfcc", "logmel"}
        Log-mel filterbank energies (``n_mels`` values per frame) or their DCT-II cepstra
        (``n_mfcc`` values, liftered by ``lifter``).
    n_mels, n_mfcc : int
        Number of triangular mel filters, number of cepstral coefficients kept.
    win_ms, hop_ms : float
        Analysis window length and hop (ms). Frames are "snipped": an utterance of
        :math:`N` samples gives :math:`1 + \lfloor (N - W) / H \rfloor` frames for window
        :math:`W` and hop :math:`H` samples.
    fmin, fmax : float, float or None
        Band covered by the mel filters (Hz); ``fmax=None`` means the Nyquist frequency.
    deltas : {0, 1, 2}
        Append first (and second) order regression coefficients
        :math:`d_t = \sum_{n=1}^{2} n (c_{t+n} - c_{t-n}) / (2 \sum_{n=1}^{2} n^2)`
        (edges replicated), multiplying the dimension by ``1 + deltas``.
    cmvn : {"mean", "meanvar", "speaker", "none"}
        Per-utterance normalization of the stacked feature vectors
        :math:`x_t \leftarrow (x_t - \mu) / \sigma` (``"meanvar"``) or :math:`x_t - \mu`
        (``"mean"``), with :math:`\mu, \sigma` taken over the utterance's frames; or
        ``"speaker"``: :math:`(x_t - \mu_s) / \sigma`, the mean :math:`\mu_s` of all the
        speaker's utterances at hand (:func:`asr.features.frontend.speaker_cmvn`, applied after
        extraction to a set of utterances with their speakers), or its online estimate from
        the training speakers' mean and the speaker's earlier utterances
        (:mod:`asr.features.online`).
    remove_dc : bool
        Subtract the waveform's mean before anything else (and each frame's mean, as Kaldi).
    trim : bool
        Cut leading and trailing silence: frames whose RMS is more than ``trim_db`` below the
        loudest frame's are dropped from both ends (as :func:`librosa.effects.trim`); at least
        one analysis window is always kept.
    trim_db : float
        Threshold (dB below the loudest frame) of the silence trimming.
    dither : float
        Gaussian dither added to the 16-bit-scale samples (0 = none, deterministic).
    preemphasis : float
        Pre-emphasis coefficient :math:`y_n = x_n - a x_{n-1}` applied per frame.
    window : str
        Window function ("povey", "hamming", "hanning", "rectangular", "blackman").
    lifter : float
        Cepstral liftering coefficient (MFCC only; 0 = none).

    Examples
    --------
    >>> cfg = FrontendConfig(sample_rate=8000, fmax=4000.0, n_mels=30, deltas=2)
    >>> cfg.dim, cfg.hop_seconds, cfg.win_length, cfg.hop_length
    (39, 0.01, 200, 80)
    >>> FrontendConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    sample_rate: int = 16000
    kind: str = "mfcc"
    n_mels: int = 40
    n_mfcc: int = 13
    win_ms: float = 25.0
    hop_ms: float = 10.0
    fmin: float = 20.0
    fmax: float | None = None
    deltas: int = 2
    cmvn: str = "mean"
    remove_dc: bool = True
    trim: bool = True
    trim_db: float = 40.0
    dither: float = 0.0
    preemphasis: float = 0.97
    window: str = "povey"
    lifter: float = 22.0

    def __post_init__(self):
        # one spelling per value (4000 and 4000.0 must give the same cache key)
        for name in FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        if isinstance(self.sample_rate, float) and self.sample_rate.is_integer():
            object.__setattr__(self, "sample_rate", int(self.sample_rate))

        def bad(name, rule):
            raise ConfigError(f"frontend.{name}={getattr(self, name)!r}: {rule}")

        if not isinstance(self.sample_rate, int) or self.sample_rate <= 0:
            bad("sample_rate", "must be a positive integer (Hz)")
        if self.kind not in KINDS:
            bad("kind", f"must be one of {', '.join(KINDS)}")
        if not isinstance(self.n_mels, int) or self.n_mels < 1:
            bad("n_mels", "must be a positive integer")
        if not isinstance(self.n_mfcc, int) or not 1 <= self.n_mfcc <= self.n_mels:
            bad("n_mfcc", f"must be an integer in [1, n_mels={self.n_mels}]")
        for name in ("win_ms", "hop_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                bad(name, "must be a positive number of milliseconds")
        if self.win_length < 2:
            bad("win_ms", f"gives a window of {self.win_length} samples at {self.sample_rate} Hz")
        if self.hop_length < 1:
            bad("hop_ms", f"gives a hop of {self.hop_length} samples at {self.sample_rate} Hz")
        nyquist = self.sample_rate / 2
        if not isinstance(self.fmin, int | float) or not 0 <= self.fmin < nyquist:
            bad("fmin", f"must be in [0, {nyquist:g}) Hz")
        if self.fmax is not None and (
            not isinstance(self.fmax, int | float) or not self.fmin < self.fmax <= nyquist
        ):
            bad("fmax", f"must be null or in (fmin={self.fmin:g}, {nyquist:g}] Hz (Nyquist)")
        if self.deltas not in (0, 1, 2) or isinstance(self.deltas, bool):
            bad("deltas", "must be 0, 1 or 2")
        if self.cmvn not in CMVN_MODES:
            bad("cmvn", f"must be one of {', '.join(CMVN_MODES)}")
        for name in ("remove_dc", "trim"):
            if not isinstance(getattr(self, name), bool):
                bad(name, "must be true or false")
        if not isinstance(self.trim_db, int | float) or not self.trim_db > 0:
            bad("trim_db", "must be a positive number of dB")
        if not isinstance(self.dither, int | float) or self.dither < 0:
            bad("dither", "must be >= 0")
        if not isinstance(self.preemphasis, int | float) or not 0 <= self.preemphasis < 1:
            bad("preemphasis", "must be in [0, 1)")
        if self.window not in WINDOWS:
            bad("window", f"must be one of {', '.join(WINDOWS)}")
        if not isinstance(self.lifter, int | float) or self.lifter < 0:
            bad("lifter", "must be >= 0")

    @property
    def dim(self) -> int:
        """Feature dimension: ``n_mfcc`` or ``n_mels``, times ``1 + deltas``."""
        base = self.n_mfcc if self.kind == "mfcc" else self.n_mels
        return base * (1 + self.deltas)

    @property
    def hop_seconds(self) -> float:
        """Time between two frames (s)."""
        return self.hop_ms / 1000.0

    @property
    def win_length(self) -> int:
        """Analysis window length in samples."""
        return int(self.sample_rate * self.win_ms / 1000.0)

    @property
    def hop_length(self) -> int:
        """Hop in samples."""
        return int(self.sample_rate * self.hop_ms / 1000.0)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML/JSON ready) of every parameter."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FrontendConfig:
        """Build from a dict such as :meth:`to_dict` gives; unknown keys raise ConfigError."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"frontend: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**data)
