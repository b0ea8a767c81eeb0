r"""Second pass of the spotter: each candidate hit is re-decided on the whole stretch of speech
around it, by the recognizer's own closed-set energies.

The subsequence DTW (first pass) finds where a template fits a stretch of the stream, but a
short template that fits part of a longer word (a "six" on the hiss of another word, a "two"
inside a foreign word) scores as well as a whole keyword, and the first pass cannot tell. An
isolated-word recognizer can: given the whole word it answers among all the words, filler
classes included. So every candidate :math:`[a_0, b_0)` (feature frames) becomes a region
:math:`[a, b)`:

- extended backwards and forwards through speech (:class:`asr.spotting.normalize.SpeechGate`),
  across pauses shorter than ``gap`` frames, by at most ``reach`` frames each way (the
  surrounding word, not the whole sentence);
- rejected when less than ``min_speech`` of its frames are speech (noise is not a keyword);
- normalized as a clip is (:func:`asr.features.frontend.apply_cmvn`; with ``cmvn=speaker``
  the speaker's running mean at the region's end, :class:`asr.spotting.normalize.
  StreamSpeakerCmvn`, and the region's own deviation: online speaker CMVN of the region);
- scored with the energies :math:`E(W, y, X_{a:b})` of every word :math:`y` of the vocabulary
  (:meth:`asr.model.Recognizer.energies`, the same soft-min DTW over templates as ``asr
  recognize``): the hit's word is :math:`\hat y = \arg\min_y E`, dropped when it is a filler
  class or not one of the spotted words, and its score is the margin

  .. math:: s = E(W, \hat y, X_{a:b}) - \min_{y \ne \hat y} E(W, y, X_{a:b}) \;\le 0

  (lower is better, as for the first pass), compared with the word's threshold;
- answered only if its region overlaps no region answered before by half of the shorter one
  (every candidate inside one word gives that word's region, hence the same answer: one
  answer per word, whether a hit, a filler or below threshold, so that the thresholds do not
  change which regions are answered).

A region is decided once the frames after it show where its speech ends (a pause of ``gap``
frames, or ``reach`` frames past the candidate), so a hit comes out ``gap`` frames after the
word's end at the earliest. Everything depends on frame indices only, so a file and a stream
in chunks give the same hits.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from asr.features.frontend import apply_cmvn, speaker_cmvn

# chosen on a validation stream (docs/experiments.md, eighth session)
REACH_SECONDS = 0.3
GAP_SECONDS = 0.15
MIN_SPEECH = 0.5
MIN_FRAMES = 12          # the shortest region scored (frames): a template needs some length
KEEP_SECONDS = 4.0       # frames kept before the oldest pending candidate


class Verifier:
    """Candidate hits in, verified hits out (see the module docstring).

    Parameters
    ----------
    recognizer : asr.model.Recognizer
    words : list of str
        The spotted words (a region answered with another word is dropped).
    thresholds : numpy.ndarray
        :math:`\\theta_w` per spotted word, on the margin :math:`s`.
    frontend : asr.features.FrontendConfig
        Its ``cmvn`` says how a region is normalized; its hop is the frame period.
    """

    def __init__(self, recognizer, words, thresholds, frontend, reach: float = REACH_SECONDS,
                 gap: float = GAP_SECONDS, min_speech: float = MIN_SPEECH):
        hop = frontend.hop_seconds
        self.cmvn = frontend.cmvn
        self.rec = recognizer
        self.thresholds = dict(zip(words, np.asarray(thresholds, dtype=float), strict=True))
        self.reach = max(1, int(round(reach / hop)))
        self.gap = max(1, int(round(gap / hop)))
        self.min_speech = float(min_speech)
        self.keep = int(round(KEEP_SECONDS / hop))
        self.feats = None        # raw frames
        self.means = None        # the speaker's mean after each frame (cmvn=speaker)
        self.speech = np.zeros(0, dtype=bool)
        self.offset = 0          # stream index of feats[0]
        self.count = 0           # feature frames received
        self.pending = deque()   # (a0, b0, candidate)
        self.reported = deque()  # regions (a, b) of the hits reported lately

    def push(self, feats: np.ndarray, speech: np.ndarray, means, candidates,
             final: bool = False):
        """Add the next raw feature frames with their speech flags, the speaker's mean after
        each (``cmvn=speaker``, else None) and the candidates
        decided so far (``(a0, b0, hit)``: feature frames ``[a0, b0)`` and the first pass's
        :class:`~asr.spotting.engine.Hit`); returns ``(hit, word, score, margin, a, b, seen)``
        for each hit decided now (``seen``: the frames ``[0, seen)`` its decision read)."""
        feats = np.asarray(feats, dtype=np.float32)
        self.feats = feats.copy() if self.feats is None else np.concatenate([self.feats, feats])
        if means is not None:
            means = np.asarray(means, dtype=np.float32)
            self.means = means.copy() if self.means is None else \
                np.concatenate([self.means, means])
        self.speech = np.concatenate([self.speech, np.asarray(speech, dtype=bool)])
        self.count += len(feats)
        self.pending.extend(candidates)
        out = []
        while self.pending:
            a0, b0, hit = self.pending[0]
            end = self._end(b0, final)
            if end is None:
                break
            self.pending.popleft()
            decided = self._decide(a0, end[0], hit)
            if decided is not None:
                out.append(decided + (end[1],))
        self._trim()
        return out

    def _flag(self, i) -> bool:
        return bool(self.speech[i - self.offset])

    def _end(self, b0, final):
        """``(end, seen)``: the end of the region of a candidate ending at ``b0`` and the
        frames read to find it; None while unknown."""
        b0 = min(b0, self.count)
        last, j = b0, b0
        while j < b0 + self.reach:
            if j >= self.count:
                return (last, self.count) if final else None
            if self._flag(j):
                last = j + 1
            elif j - last + 1 >= self.gap:
                break
            j += 1
        return last, min(j + 1, self.count)

    def _start(self, a0):
        first, j = a0, a0 - 1
        low = max(self.offset, a0 - self.reach)
        while j >= low:
            if self._flag(j):
                first = j
            elif first - j >= self.gap:
                break
            j -= 1
        return first

    @torch.no_grad()
    def _decide(self, a0, b, hit):
        a = self._start(max(a0, self.offset))
        if b - a < MIN_FRAMES:
            grow = MIN_FRAMES - (b - a)
            a = max(self.offset, a - grow // 2)
            b = min(self.count, a + MIN_FRAMES)
        if b <= a or self.speech[a - self.offset:b - self.offset].mean() < self.min_speech:
            return None
        if any(min(b, d) - max(a, c) > 0.5 * min(b - a, d - c) for c, d in self.reported):
            return None
        segment = self._normalized(a, b)
        energies = self.rec.energies([segment])[0].double().numpy()
        # the region is answered, whatever the answer: no later candidate asks again
        self.reported.append((a, b))
        best = int(np.argmin(energies))
        word = self.rec.words[best]
        if word not in self.thresholds:
            return None
        others = np.delete(energies, best)
        score = float(energies[best] - others.min()) if len(others) else float(energies[best])
        if not score < self.thresholds[word]:
            return None
        return hit, word, score, -score, a, b

    def _normalized(self, a, b) -> torch.Tensor:
        """Frames ``[a, b)`` normalized as a clip."""
        x = torch.from_numpy(self.feats[a - self.offset:b - self.offset])
        if self.cmvn != "speaker":
            return apply_cmvn(x, self.cmvn)
        mean = torch.from_numpy(self.means[b - 1 - self.offset])
        return speaker_cmvn([x], ["stream"], means={"stream": mean})[0]

    def _trim(self):
        """Forget frames no pending or later candidate can reach (bounded memory)."""
        horizon = self.count - self.keep
        if self.pending:
            horizon = min(horizon, self.pending[0][0] - self.reach - self.gap)
        cut = horizon - self.offset
        if cut > 0:
            self.feats = self.feats[cut:]
            self.speech = self.speech[cut:]
            if self.means is not None:
                self.means = self.means[cut:]
            self.offset += cut
        while self.reported and self.reported[0][1] < self.offset:
            self.reported.popleft()
