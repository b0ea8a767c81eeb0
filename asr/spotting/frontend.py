r"""The front end and G_W run incrementally over a stream of samples, block by block.

A stream is cut into blocks of ``block`` feature frames (a fixed schedule that depends only on
how many samples have arrived), so that a file processed at once and the same audio arriving in
chunks of any size produce exactly the same numbers.

**Features.** Frame :math:`f` covers samples :math:`[fH, fH + W)` (hop :math:`H`, window
:math:`W`, Kaldi "snip edges"); the Kaldi MFCC / log-mel of each frame depends on that frame
alone, so frames are computed as soon as their samples are in. Deltas of order :math:`o` need
:math:`2o` frames of look-ahead (edges replicated at the start and end of the stream, as for a
file). A file's global DC removal and silence trimming do not apply to a stream (Kaldi removes
each frame's DC offset).

**Normalization without a speaker batch.** ``frontend.cmvn=none`` (with ``model.input_norm
=global``) needs nothing more. ``speaker`` (the speaker-independent models, as
``recipes/fsdd/conf/spotting.yaml``) takes the speaker's mean from the model's prior and the
speech heard so far: :class:`asr.spotting.normalize.StreamSpeakerCmvn`. For the per-utterance
modes a causal running estimate replaces the utterance's statistics: with
:math:`\lambda_t = 1 / \min(t + 1, N)` (a cumulative mean over the first :math:`N` frames, then
an exponential one of time constant :math:`N`, default 300 frames = 3 s),

.. math::

    \mu_t = \mu_{t-1} + \lambda_t (x_t - \mu_{t-1}), \qquad
    \sigma^2_t = \sigma^2_{t-1} + \lambda_t \bigl((x_t - \mu_t)^2 - \sigma^2_{t-1}\bigr),

and frame :math:`t` becomes :math:`x_t - \mu_t` (``mean``) or :math:`(x_t - \mu_t) /
\max(\sigma_t, \epsilon)` (``meanvar``), using only the past and present.

**G_W.** Output frame :math:`j` of the TDNN reads the (edge-padded) feature frames
:math:`jS - l, \dots, jS - l + R - 1` (receptive field :math:`R`, subsampling :math:`S`,
:math:`l = \lfloor (R-1)/2 \rfloor`), and, with ``input_skip``, the mean of frames
:math:`jS, \dots, jS + S - 1`; every layer normalizes frames on their own, so each output frame
is computed once, as soon as its :math:`R - 1 - l` frames of look-ahead are in.
"""

from __future__ import annotations

import numpy as np
import torch
from torchaudio.compliance import kaldi

from asr.errors import ConfigError
from asr.features.frontend import INT16_SCALE, add_deltas
from asr.spotting.normalize import SpeechGate, StreamSpeakerCmvn

CMVN_FRAMES = 300


class StreamFeatures:
    """Front-end features of a stream, block by block.

    Parameters
    ----------
    config : asr.features.FrontendConfig
    block : int
        Feature frames per block (the unit of work).
    cmvn_frames : int
        Time constant :math:`N` (frames) of the running CMVN (``mean`` and ``meanvar``).
    prior : dict, optional
        The model's CMVN prior (:func:`asr.inference.cmvn_prior`), for ``cmvn=speaker``.
    """

    def __init__(self, config, block: int = 4, cmvn_frames: int = CMVN_FRAMES, prior=None):
        self.config = config
        self.block = int(block)
        self.win, self.hop = config.win_length, config.hop_length
        self.look = 2 * config.deltas
        self.cmvn_frames = int(cmvn_frames)
        self.samples = np.zeros(0, dtype=np.float32)
        self.sample_offset = 0      # stream index of self.samples[0]
        self.raw = np.zeros((0, self._base_dim()), dtype=np.float32)
        self.raw_offset = 0         # stream index of self.raw[0]
        self.raw_done = 0           # raw frames computed
        self.out_done = 0           # feature frames emitted
        self.total_samples = 0
        self._mean = None
        self._var = None
        self._count = 0
        self.gate = SpeechGate(config)
        self._speaker = StreamSpeakerCmvn(prior) if config.cmvn == "speaker" else None
        # of the frames emitted by the last push: speech flags, raw (unnormalized) frames and,
        # with cmvn=speaker, the speaker's mean after each
        self.speech = np.zeros(0, dtype=bool)
        self.raw_out = np.zeros((0, config.dim), dtype=np.float32)
        self.means = None

    def _base_dim(self):
        c = self.config
        return c.n_mfcc if c.kind == "mfcc" else c.n_mels

    def push(self, samples: np.ndarray, final: bool = False) -> np.ndarray:
        """Add samples (float in [-1, 1]); returns the new feature frames [n, D] (all of the
        rest when ``final``); their speech flags (:class:`asr.spotting.normalize.SpeechGate`)
        are then in ``self.speech``, the raw frames in ``self.raw_out`` and, with
        ``cmvn=speaker``, the speaker's mean after each in ``self.means``."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.samples = np.concatenate([self.samples, samples])
        self.total_samples += len(samples)
        out, self._flags, self._raws, self._means = [], [], [], []
        while True:
            # raw frames available once their window is in
            available = 0 if self.total_samples < self.win else \
                1 + (self.total_samples - self.win) // self.hop
            target = self.raw_done + self.block
            if target <= available:
                self._raw_frames(target)
            elif final and self.raw_done < available:
                self._raw_frames(available)
            ready = self.raw_done - self.look if not (final and self.raw_done == available) \
                else self.raw_done
            n = (ready - self.out_done) // self.block * self.block
            if final and self.raw_done == available:
                n = ready - self.out_done
            if n > 0:
                out.append(self._features(self.out_done, self.out_done + n, final))
                self.out_done += n
                self._trim()  # as it goes: a whole file pushed at once stays linear
                continue
            if target > available:
                break
        self._trim()
        empty = np.zeros((0, self.config.dim), dtype=np.float32)
        self.speech = np.concatenate([np.zeros(0, dtype=bool)] + self._flags)
        self.raw_out = np.concatenate([empty] + self._raws)
        self.means = None if self._speaker is None else np.concatenate([empty] + self._means)
        return np.concatenate([empty] + out)

    def _raw_frames(self, upto):
        """Compute raw frames ``raw_done .. upto`` from the sample buffer."""
        a = self.raw_done * self.hop - self.sample_offset
        b = (upto - 1) * self.hop + self.win - self.sample_offset
        wave = torch.from_numpy(self.samples[a:b].copy()) * INT16_SCALE
        c = self.config
        common = dict(frame_length=c.win_ms, frame_shift=c.hop_ms,
                      sample_frequency=float(c.sample_rate), num_mel_bins=c.n_mels,
                      low_freq=float(c.fmin), high_freq=0.0 if c.fmax is None else float(c.fmax),
                      dither=0.0, preemphasis_coefficient=float(c.preemphasis),
                      remove_dc_offset=c.remove_dc, window_type=c.window, snip_edges=True)
        if c.kind == "mfcc":
            frames = kaldi.mfcc(wave[None], num_ceps=c.n_mfcc, cepstral_lifter=float(c.lifter),
                                **common)
        else:
            frames = kaldi.fbank(wave[None], **common)
        assert frames.shape[0] == upto - self.raw_done
        self.raw = np.concatenate([self.raw, frames.numpy().astype(np.float32)])
        self.raw_done = upto

    def _features(self, a, b, final):
        """Feature frames a..b (deltas from raw frames a - look .. b + look, edges replicated
        at the stream's start, and at its end when ``final``), normalized."""
        lo = max(0, a - self.look)
        hi = min(self.raw_done, b + self.look)
        raw = self.raw[lo - self.raw_offset:hi - self.raw_offset]
        feats = add_deltas(torch.from_numpy(raw), self.config.deltas).numpy()[a - lo:b - lo]
        return self._normalize(feats)

    def _normalize(self, feats):
        speech = self.gate(feats)
        self._flags.append(speech)
        self._raws.append(feats.astype(np.float32))
        mode = self.config.cmvn
        if mode == "none":
            return feats
        if mode == "speaker":
            out = self._speaker(feats, speech)
            self._means.append(self._speaker.frame_means)
            return out
        out = np.empty_like(feats)
        for t, x in enumerate(feats.astype(np.float64)):
            self._count += 1
            rate = 1.0 / min(self._count, self.cmvn_frames)
            if self._mean is None:
                self._mean, self._var = x.copy(), np.zeros_like(x)
            else:
                self._mean += rate * (x - self._mean)
                self._var += rate * ((x - self._mean) ** 2 - self._var)
            y = x - self._mean
            if mode == "meanvar":
                y = y / np.maximum(np.sqrt(self._var), 1e-5) if self._count > 1 else y * 0.0
            out[t] = y
        return out

    def _trim(self):
        """Forget samples and raw frames that no later frame needs (bounded memory)."""
        keep_raw = max(0, self.out_done - self.look) - self.raw_offset
        if keep_raw > 0:
            self.raw = self.raw[keep_raw:]
            self.raw_offset += keep_raw
        keep = self.raw_done * self.hop - self.sample_offset
        if keep > 0:
            self.samples = self.samples[keep:]
            self.sample_offset += keep


class StreamEncoder:
    """G_W (and the model's input standardization) over a stream of feature frames.

    Parameters
    ----------
    recognizer : asr.model.Recognizer
        In eval mode; ``output_norm="utterance"`` cannot run on a stream.
    """

    def __init__(self, recognizer):
        self.rec = recognizer
        enc = recognizer.encoder
        if enc is not None and enc.output_norm == "utterance":
            raise ConfigError("model.output_norm=utterance normalizes over a whole utterance "
                              "and cannot run on a stream")
        self.field = enc.receptive_field if enc is not None else 1
        self.stride = enc.subsampling if enc is not None else 1
        self.left = (self.field - 1) // 2
        self.frames = np.zeros((0, recognizer.input_dim), dtype=np.float32)
        self.offset = 0        # stream index of self.frames[0]
        self.count = 0         # feature frames received
        self.done = 0          # output frames computed

    @property
    def lookahead(self) -> int:
        """Feature frames after output frame j's first one (jS) that it needs."""
        return max(self.field - 1 - self.left, self.stride - 1)

    def push(self, feats: np.ndarray, final: bool = False) -> torch.Tensor:
        """Add feature frames; returns the new output frames [n, d] (all of the rest when
        ``final``)."""
        feats = np.asarray(feats, dtype=np.float32)
        if self.rec.config.input_norm == "global":
            feats = (feats - self.rec.input_mean.numpy()) / self.rec.input_std.numpy()
        self.frames = np.concatenate([self.frames, feats])
        self.count += len(feats)
        s = self.stride
        if final:
            upto = -(-self.count // s) if self.count else 0  # ceil(T / S) output frames
        else:
            upto = max(0, (self.count - 1 - self.lookahead) // s + 1)
        out = self._encode(self.done, upto) if upto > self.done else \
            torch.zeros(0, self.rec.dim)
        self.done = max(self.done, upto)
        keep = max(0, self.done * s - self.left) - self.offset
        if keep > 0:
            self.frames = self.frames[keep:]
            self.offset += keep
        return out

    @torch.no_grad()
    def _encode(self, a, b):
        x = self.frames
        last = self.count - 1
        if self.rec.encoder is None:
            return torch.from_numpy(x[a - self.offset:b - self.offset].copy())
        enc, s = self.rec.encoder, self.stride
        pos = np.arange(a * s, (b - 1) * s + self.field) - self.left
        index = np.clip(pos, 0, last) - self.offset
        y = torch.from_numpy(x[index])[None]                   # [1, P, D]
        for layer in enc.layers:
            y = layer(y)
        y = y[0]
        if enc.project is not None:
            y = enc.project(y)
        if enc.output_norm == "l2":
            y = torch.nn.functional.normalize(y, dim=-1)
        elif enc._out_layer_norm is not None:
            y = enc._out_layer_norm(y)
        if enc.input_skip:
            pos = np.arange(a, b)[:, None] * s + np.arange(s)[None, :]
            pooled = torch.from_numpy(x[np.minimum(pos, last) - self.offset].mean(axis=1))
            y = torch.cat([y, enc.skip_log_scale.exp() * pooled], dim=-1)
        assert y.shape[0] == b - a
        return y
