r"""Non-maximum suppression of keyword candidates across words and time, causal.

Each output frame :math:`t` brings every word's score :math:`s_w(t)` (its best match ending at
:math:`t`, lower is better) and that match's first frame. With thresholds :math:`\theta_w`
(relative scores :math:`r_w(t) = s_w(t) - \theta_w`, or :math:`s_w(t)` where
:math:`\theta_w = \infty`), frame :math:`t` holds a hit of word :math:`w` when

- :math:`s_w(t) < \theta_w` (below the word's threshold),
- :math:`r_w(t)` is the smallest :math:`r_{w'}(t')` of all words :math:`w'` of its group over
  :math:`t' \in [t - P, t + P]` (earlier frames strictly larger, later ones not smaller;
  :math:`P` the ``window`` in frames),
- the match :math:`[\mathrm{start}, t]` overlaps the group's previous hit by less than half of
  the shorter of the two.

The group is every word (spotting) or each word alone (calibration). Frame :math:`t` is
decided once frame :math:`t + P` is in. Its ``margin`` is :math:`\min_{w' \ne w,\ |t' - t|
\le P} s_{w'}(t') - s_w(t)`, how much better it is than any other word of its group nearby.

The half-window :math:`P` must span the distance between the end of a poor partial match and
the end of the full match of the same stretch (a tenth of a second and more): a candidate that
is a local minimum only because the better one ends just outside its window becomes a hit and,
by the overlap rule, blocks the better one. With no threshold (the DET run, ``--threshold
inf``) such a poor candidate is a hit, with a threshold it is not, so a window too short also
makes the DET curve read off a threshold-free run fall below reruns at its thresholds.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class Suppressor:
    """The decision rule above over a stream of score rows.

    Parameters
    ----------
    thresholds : array [W]
        :math:`\\theta_w` (``inf``: every local best is a hit).
    groups : list of int arrays
        Word indices suppressed together.
    window : int
        :math:`P` in frames (>= 1).
    """

    def __init__(self, thresholds, groups, window: int):
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        # the suppression compares scores relative to finite thresholds
        self.offsets = np.where(np.isfinite(self.thresholds), self.thresholds, 0.0)
        self.groups = [np.asarray(g) for g in groups]
        self.window = int(window)
        self.last_hit = [None] * len(self.groups)  # (start frame, end frame) per group
        self.history = deque()                      # (frame, scores[W], starts[W])
        self.frames = 0                             # rows pushed
        self.decided = 0                            # frames decided

    def push(self, scores, starts) -> None:
        """Add rows [n, W] of word scores and their matches' first frames."""
        for r in range(len(scores)):
            self.history.append((self.frames + r, scores[r], starts[r]))
        self.frames += len(scores)

    def decide(self, final: bool = False) -> list[tuple[int, int, int, float, float]]:
        """The hits of every frame that can be decided now (all, when ``final``):
        ``(word, first frame, last frame, score, margin)``."""
        upto = self.frames if final else self.frames - self.window
        hits = []
        while self.decided < upto:
            hits.extend(self._decide(self.decided))
            self.decided += 1
            while self.history and self.history[0][0] < self.decided - self.window:
                self.history.popleft()
        return hits

    def _decide(self, t) -> list:
        _, scores, begins = self.history[t - self.history[0][0]]
        relative = scores - self.offsets
        hits = []
        for g, members in enumerate(self.groups):
            w = members[int(np.argmin(relative[members]))]
            v = relative[w]
            if not scores[w] < self.thresholds[w]:
                continue
            if not self._local_best(t, members, v):
                continue
            first = int(begins[w])
            if self.last_hit[g] is not None:
                a, b = self.last_hit[g]
                overlap = min(b, t) - max(a, first) + 1
                if overlap > 0.5 * min(b - a + 1, t - first + 1):
                    continue
            self.last_hit[g] = (first, t)
            others = [s[members][members != w].min() for frame, s, _ in self.history
                      if abs(frame - t) <= self.window and len(members) > 1]
            margin = float(min(others) - scores[w]) if others else float("inf")
            hits.append((int(w), first, t, float(scores[w]), margin))
        return hits

    def _local_best(self, t, members, v) -> bool:
        """No frame of the group within the window beats ``v`` (earlier ties lose to t)."""
        for frame, s, _ in self.history:
            if frame == t or abs(frame - t) > self.window:
                continue
            other = (s - self.offsets)[members].min()
            if other < v or (other == v and frame < t):
                return False
        return True
