r"""The spotting engine: samples in, keyword hits out, one block at a time.

Pipeline: :class:`asr.spotting.frontend.StreamFeatures` -> :class:`StreamEncoder` (G_W) ->
local costs against every template frame -> :class:`asr.dtw.SubsequenceMatcher` (normalized
subsequence DTW: each template may start and end anywhere in the stream) -> a word's score
track :math:`s_w(t) = \min_k \mathrm{score}_{w,k}(t)` (its best template's match ending at
output frame :math:`t`) -> score normalization -> detection.

**Score normalization** (``score_norm``). The raw score of a match is a mean local cost, which
depends on how well *anything* fits that stretch of the stream (clean speech, noise, a voice
close to the templates' or not), so one threshold does not suit every segment and word.

- ``none``: :math:`\mathrm{score}_{w,k}(t)` as it is.
- ``background`` (a filler or garbage model, a likelihood ratio): with :math:`g(i) = \min_j
  c(i, j)` the distance of stream frame :math:`i` to the closest frame of *any* template of
  the model (every word, filler classes included: an unconstrained path), a match of template
  :math:`k` over :math:`[s, t]` scores

  .. math:: \mathrm{score}_{w,k}(t) - \frac{1}{t - s + 1} \sum_{i=s}^{t} g(i) \;\ge 0

  (for the ``itakura`` pattern every stream frame of the path weighs 1, so the score is the
  mean of :math:`c(i, j_i)` over the same frames and the difference is never negative): how
  much worse the template's constrained path is than the best frame-by-frame explanation
  of the same segment.
- ``competitor``: :math:`s_w(t) - \min_{w' \ne w} s_{w'}(t)`, the margin to the best other
  word of the whole vocabulary ending at the same frame (filler classes and words not spotted
  included): negative when :math:`w` is the best explanation; :math:`+\infty` while either
  term is (no match yet, e.g. at the start of the stream).

Words written in angle brackets (``<filler>``) are filler classes: trained like any word so
that keywords are kept apart from other speech, scored as competitors and in the background,
never spotted themselves unless asked for by name.

**Shortest match** (``min_duration`` :math:`d`). A match spanning fewer than
:math:`\lceil d / \Delta \rceil` output frames (period :math:`\Delta`) is ignored: its score is
:math:`+\infty`. The Itakura slopes let a template shrink to half its length, so a short
template (a word cut to its vowel) shrunk to a few frames fits a piece of any other word; on
the validation stream most of the best-scoring false alarms were such matches of 0.12-0.2 s
inside non-keyword speech, while 95% of the keywords last 0.26 s or more.

**Detection** (non-maximum suppression across words and time, causal,
:mod:`asr.spotting.suppression`). With thresholds
:math:`\theta_w`, frame :math:`t` holds a hit of word :math:`w` when

- :math:`v = s_w(t) - \theta_w < 0` (below the word's threshold),
- :math:`v` is the smallest :math:`s_{w'}(t') - \theta_{w'}` of all words :math:`w'` of its
  group over :math:`t' \in [t - P, t + P]` (earlier frames strictly larger, later ones not
  smaller; :math:`P` the ``window`` in frames),
- the match :math:`[\mathrm{start}, t]` overlaps the group's previous hit by less than half of
  the shorter of the two.

The group is every word (``across_words=True``, the default), or each word alone (calibration).
A hit is decided :math:`P` output frames after its end, so its delay after the word's end is
:math:`P` plus the look-ahead of the deltas and of G_W and at most one block. Its ``margin`` is
:math:`\min_{w' \ne w,\ |t' - t| \le P} s_{w'}(t') - s_w(t)` (how much better it is than any
other word at that place). Work and memory per second of audio are bounded: the trellis keeps
one row per template, and the score history ``2P + 1`` frames.

**Verification** (``verify=True``, the default; :mod:`asr.spotting.verify`). The hits of the
detection above are candidates: each is extended to the stretch of speech around it and
re-decided there by the recognizer's closed-set energies (filler classes included); the
thresholds :math:`\theta_w` then apply to that energy margin, and the candidates are
suppressed with no threshold. A verified hit is decided once the pause after its speech is in.

A file and a stream give the same hits by construction: :func:`spot_file` feeds the whole file
to the same engine that ``asr listen`` feeds chunk by chunk, and the engine works on a fixed
block schedule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from asr.dtw import SubsequenceMatcher
from asr.inference import cmvn_prior
from asr.spotting.frontend import StreamEncoder, StreamFeatures
from asr.spotting.suppression import Suppressor
from asr.spotting.verify import Verifier

# 0.14 s: the widest suppression window that still prints a live hit (asr listen) within
# 0.3 s of the word's end; docs/experiments.md has the trade-off
WINDOW_SECONDS = 0.14
MIN_DURATION_SECONDS = 0.2
SCORE_NORMS = ("none", "background", "competitor")


def is_filler(word: str) -> bool:
    """A filler class (``<...>``): a non-keyword model, not spotted by default."""
    return word.startswith("<") and word.endswith(">")


def keywords_of(words) -> list[str]:
    """The words spotted by default: all but the filler classes."""
    return [w for w in words if not is_filler(w)]


@dataclass
class Hit:
    """One detected keyword: times in seconds from the start of the stream."""

    word: str
    start: float
    end: float
    score: float
    margin: float
    decided: float  # stream time (s) when the hit was decided (end + delay)

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class Spotter:
    """Subsequence-DTW keyword spotter over a stream.

    Parameters
    ----------
    recognizer : asr.model.Recognizer
    frontend : asr.features.FrontendConfig
    words : list of str, optional
        The words to spot (default: the vocabulary less its filler classes ``<...>``).
    thresholds : dict or float, optional
        :math:`\\theta_w` per word, or one for all (default ``inf``: every local best is a hit).
    across_words : bool
        Suppress across words (default) or within each word only.
    block : int
        Feature frames per block of work (rounded up to a multiple of G_W's subsampling).
    window : float
        Suppression half-window :math:`P` in seconds (see :mod:`asr.spotting.suppression`
        for why it must not be too short).
    min_duration : float
        Shortest match (seconds) that can be a hit (see the module docstring; 0: any).
    step : {"itakura", "symmetric2", "symmetric1"}
        Step pattern of the subsequence DTW (:mod:`asr.dtw.subsequence`); ``itakura`` keeps
        every match between half and twice its template's length.
    record : bool
        Keep every frame's word scores in ``tracks`` (for pictures; memory grows with the
        stream).
    score_norm : {"none", "background", "competitor"}
        Score normalization (see the module docstring).
    verify : bool
        Re-decide every candidate on the speech around it with the recognizer's closed-set
        energies (:mod:`asr.spotting.verify`; the default): the thresholds then apply to the
        verified margin. False: the first pass's hits as they are.
    """

    def __init__(self, recognizer, frontend, words=None, thresholds=None, across_words=True,
                 block: int = 4, window: float = WINDOW_SECONDS, step: str = "itakura",
                 record: bool = False, score_norm: str = "none",
                 min_duration: float = MIN_DURATION_SECONDS, verify: bool = True):
        from asr.errors import AsrError

        self.rec = recognizer
        self.frontend = frontend
        if score_norm not in SCORE_NORMS:
            raise AsrError(f"score normalization must be one of {', '.join(SCORE_NORMS)}, "
                           f"got {score_norm!r}")
        self.score_norm = score_norm
        words = list(keywords_of(recognizer.words) if words is None else words)
        unknown = [w for w in words if w not in recognizer.words]
        if unknown or not words:
            raise AsrError(f"words not in the model's vocabulary: {', '.join(unknown) or '(none)'}"
                           f" (vocabulary: {', '.join(recognizer.words)})")
        self.words = words
        if thresholds is None or isinstance(thresholds, int | float):
            value = float("inf") if thresholds is None else float(thresholds)
            thresholds = {w: value for w in words}
        self.thresholds = np.array([float(thresholds[w]) for w in words])
        self.encoder = StreamEncoder(recognizer)
        stride = self.encoder.stride
        self.features = StreamFeatures(frontend, block=-(-int(block) // stride) * stride,
                                       prior=cmvn_prior(recognizer))
        all_templates = recognizer.templates()
        # the words scored: those spotted, then (to normalize) the rest of the vocabulary
        scored = words + ([w for w in recognizer.words if w not in words]
                          if score_norm != "none" else [])
        self.scored_words = scored
        self.template_ids = [t for t, w in enumerate(recognizer.template_word_list)
                             if recognizer.words[w] in scored]
        templates = [all_templates[t].detach().float() for t in self.template_ids]
        self.template_frames = torch.cat(templates)
        self.template_word = np.array([scored.index(recognizer.words[
            recognizer.template_word_list[t]]) for t in self.template_ids])
        self.matcher = SubsequenceMatcher([len(t) for t in templates], step=step,
                                          normalize=True)
        # background: cumulative sum of g(i) (closest template frame), from frame bg_offset
        self.bg_cumsum = np.zeros(1)
        self.bg_offset = 0
        self.metric = recognizer.config.metric
        self.frame_seconds = frontend.hop_seconds * self.encoder.stride
        self.window = max(1, int(round(window / self.frame_seconds)))
        self.min_frames = int(np.ceil(min_duration / self.frame_seconds - 1e-9))
        groups = [list(range(len(words)))] if across_words else [[i] for i in range(len(words))]
        self.verifier = Verifier(recognizer, words, self.thresholds, frontend) \
            if verify else None
        first_pass = np.full(len(words), np.inf) if verify else self.thresholds
        self.suppressor = Suppressor(first_pass, groups, self.window)
        self.frames = 0                          # output frames scored
        self.record = record
        self.tracks = []                         # [n, W] blocks of word scores when record

    # --- scores ------------------------------------------------------------------------------
    def _costs(self, y: torch.Tensor) -> np.ndarray:
        t = self.template_frames
        if self.metric == "cosine":
            u = torch.nn.functional.normalize(y, dim=1)
            v = torch.nn.functional.normalize(t, dim=1)
            return (1.0 - u @ v.T).double().numpy()
        d = (y * y).sum(1)[:, None] + (t * t).sum(1)[None, :] - 2.0 * y @ t.T
        d = d.clamp_min(0.0)
        return (d.sqrt() if self.metric == "euclidean" else d).double().numpy()

    def _background(self, costs, score, start):
        r"""Subtract from each match the mean of :math:`g(i) = \min_j c(i, j)` over its
        frames (``background``); keeps the running sums of :math:`g` that later matches can
        still start in."""
        first = self.frames  # stream index of costs[0]
        g = costs.min(axis=1) if costs.shape[1] else np.zeros(len(costs))
        self.bg_cumsum = np.concatenate([self.bg_cumsum, self.bg_cumsum[-1] + np.cumsum(g)])
        # bg_cumsum[i - bg_offset] = sum of g over frames bg_offset .. i - 1
        ends = first + np.arange(len(costs))[:, None]
        begin = np.clip(start, self.bg_offset, ends)  # an unreachable match (inf) may hold any
        total = (self.bg_cumsum[ends + 1 - self.bg_offset]
                 - self.bg_cumsum[begin - self.bg_offset])
        score = score - total / (ends - begin + 1)
        # no later match starts before the earliest start the trellis still holds
        keep = int(min(self.matcher.earliest_start(), first + len(costs))) - self.bg_offset
        if keep > 0:
            self.bg_cumsum = self.bg_cumsum[keep:]
            self.bg_offset += keep
        return score

    def _word_scores(self, score, start):
        """[n, W] best template score per word and the start of that template's match, for
        the spotted words (``competitor``: minus the best other word's at the same frame)."""
        n, words = score.shape[0], len(self.scored_words)
        best = np.full((n, words), np.inf)
        begin = np.zeros((n, words), dtype=np.int64)
        for k in range(score.shape[1]):
            w = self.template_word[k]
            better = score[:, k] < best[:, w]
            best[better, w] = score[better, k]
            begin[better, w] = start[better, k]
        spotted = len(self.words)
        if self.score_norm == "competitor":
            if words > 1:
                order = np.sort(best, axis=1)
                other = np.where(best == order[:, :1], order[:, 1:2], order[:, :1])
            else:
                other = np.zeros_like(best)
            # no margin without both a match and a competitor (not nan, not -inf)
            ok = np.isfinite(best) & np.isfinite(other)
            best = np.where(ok, best - np.where(ok, other, 0.0), np.inf)
        return best[:, :spotted], begin[:, :spotted]

    # --- the stream --------------------------------------------------------------------------
    def push(self, samples, final: bool = False) -> list[Hit]:
        """Add samples (float in [-1, 1], the front end's rate); returns the hits decided."""
        feats = self.features.push(samples, final=final)
        # every later stage also runs one block at a time, so that the arithmetic (matrix
        # products included) is the same however the samples arrived
        speech, raw, means = self.features.speech, self.features.raw_out, self.features.means
        step = self.features.block
        hits = []
        for a in range(0, max(len(feats), 1), step):
            last = final and a + step >= len(feats)
            found = self._advance(self.encoder.push(feats[a:a + step], final=last), last)
            if self.verifier is None:
                hits += [self._hit(*f) for f in found]
                continue
            s = self.encoder.stride
            candidates = [(f[1] * s, (f[2] + 1) * s, self._hit(*f)) for f in found]
            for verified in self.verifier.push(
                    raw[a:a + step], speech[a:a + step],
                    None if means is None else means[a:a + step], candidates, final=last):
                hits.append(self._verified(*verified))
        return hits

    def _advance(self, y, final) -> list[tuple]:
        """Score new output frames ``y`` and decide the frames that can be decided: the
        suppressor's ``(word, first, last, score, margin)`` of each hit."""
        if len(y):
            costs = self._costs(y)
            score, start = self.matcher.push(costs)
            if self.score_norm == "background":
                score = self._background(costs, score, start)
            span = self.frames + np.arange(len(y))[:, None] - start + 1
            score = np.where(span >= self.min_frames, score, np.inf)
            best, begin = self._word_scores(score, start)
            if self.record:
                self.tracks.append(best)
            self.frames += len(y)
            self.suppressor.push(best, begin)
        return self.suppressor.decide(final)

    def flush(self) -> list[Hit]:
        """End of stream: the remaining hits."""
        return self.push(np.zeros(0, dtype=np.float32), final=True)

    def _hit(self, w, first, last, score, margin) -> Hit:
        fe, s = self.frontend, self.encoder.stride
        start = first * s * fe.hop_length / fe.sample_rate
        end = ((last + 1) * s - 1) * fe.hop_length / fe.sample_rate + fe.win_ms / 1000.0
        return Hit(self.words[w], start, end, score, margin, self._decision_time(last, end))

    def _verified(self, hit, word, score, margin, first, end, seen) -> Hit:
        """The hit of a verified region, feature frames ``[first, end)``: decided once the
        first pass has decided its candidate and feature frames ``[0, seen)`` are in."""
        fe = self.frontend
        start = first * fe.hop_length / fe.sample_rate
        stop = ((end - 1) * fe.hop_length + fe.win_length) / fe.sample_rate
        decided = max(hit.decided, self._feature_time(seen - 1) if seen else 0.0)
        return Hit(word, start, stop, score, margin, decided)

    def _feature_time(self, f) -> float:
        """Stream time (s) at which feature frame ``f`` is emitted (whole blocks, with the
        deltas' look-ahead); at the end of the stream, its length."""
        fe, feats = self.frontend, self.features
        b = feats.block
        raw = -(-(-(-(f + 1) // b) * b + feats.look) // b) * b
        samples = min((raw - 1) * fe.hop_length + fe.win_length, feats.total_samples)
        return samples / fe.sample_rate

    def _decision_time(self, last, end) -> float:
        """Stream time (s) at which the audio that decides a hit ending at output frame
        ``last`` is complete: output frame ``last + P`` needs feature frame
        :math:`f = (\text{last} + P) S + a` (G_W's look-ahead :math:`a`), emitted once the
        raw frames up to the block after :math:`f` plus the deltas' look-ahead are computed,
        in whole blocks; at the end of the stream, its length."""
        f = (last + self.window) * self.encoder.stride + self.encoder.lookahead
        return max(self._feature_time(f), end)


def spot_file(recognizer, frontend, path, **options) -> list[Hit]:
    """Every hit of a recording (the file through the same engine as a live stream)."""
    from asr.features import load_audio

    spotter = Spotter(recognizer, frontend, **options)
    wave = load_audio(path, frontend.sample_rate).numpy()
    return spotter.push(wave) + spotter.flush()
