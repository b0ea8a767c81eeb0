"""Helpers shared by the corpus preparers: split sizes, writing the three manifests, a summary."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from asr.corpora.manifest import Utterance, write_manifest
from asr.errors import ConfigError

SPLITS = ("train", "valid", "test")


def count_of(fraction: float, n: int, *, name: str, keep_one: bool = True) -> int:
    """``round(fraction * n)`` (halves up), at least 1 when ``fraction > 0`` and ``keep_one``.

    Never more than ``n - 1``, so the part the rest is carved from is never emptied.

    Examples
    --------
    >>> count_of(0.1, 45, name="valid"), count_of(0.01, 5, name="valid"), count_of(0.0, 5, name="v")
    (5, 1, 0)
    """
    if not isinstance(fraction, int | float) or not 0.0 <= fraction < 1.0:
        raise ConfigError(f"{name}={fraction!r}: must be a fraction in [0, 1)")
    k = math.floor(fraction * n + 0.5)
    if fraction > 0 and keep_one:
        k = max(k, 1)
    return max(0, min(k, n - 1))


def parse_list(text: str | Sequence[str] | None) -> list[str]:
    """``"a,b, c"`` -> ``["a", "b", "c"]`` (also accepts a list); None -> ``[]``."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else list(text)
    return [s.strip() for s in items if s.strip()]


def write_splits(out_dir: str | os.PathLike, splits: Mapping[str, list[Utterance]]) -> list[Path]:
    """Write ``OUT/{train,valid,test}.jsonl``; returns their paths."""
    out = Path(out_dir)
    paths = []
    for name in SPLITS:
        path = out / f"{name}.jsonl"
        write_manifest(path, splits.get(name, []))
        paths.append(path)
    return paths


def summary_table(splits: Mapping[str, list[Utterance]]) -> str:
    """A small text table: utterances, speakers, words and hours per split.

    Examples
    --------
    >>> u = Utterance("a", Path("a.wav"), "yes", "s1", 1.0)
    >>> print(summary_table({"train": [u, u], "test": [u]}))
    split  utterances  speakers  words  minutes
    train           2         1      1     0.03
    valid           0         0      0     0.00
    test            1         1      1     0.02
    total           3         1      1     0.05
    """
    rows = [("split", "utterances", "speakers", "words", "minutes")]
    everything = []
    for name in SPLITS:
        utts = splits.get(name, [])
        everything += utts
        rows.append(_row(name, utts))
    rows.append(_row("total", everything))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def _row(name: str, utts: list[Utterance]) -> tuple[str, ...]:
    return (name, str(len(utts)), str(len({u.speaker for u in utts})),
            str(len({u.word for u in utts})), f"{sum(u.duration for u in utts) / 60:.2f}")
