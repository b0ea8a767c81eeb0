"""Hits as text: an aligned table, JSON lines, or CTM (NIST's time-marked conversation
format: ``<file> <channel> <start> <duration> <word> <confidence>``)."""

from __future__ import annotations

import json


def format_hits(hits, fmt: str, source: str = "-") -> str:
    """``table`` (with a header), ``json`` (one object per hit: word, start, end, score,
    margin) or ``ctm`` (the score as the last field: lower is better)."""
    if fmt == "json":
        return "\n".join(json.dumps({k: v for k, v in h.to_dict().items() if k != "decided"})
                         for h in hits)
    if fmt == "ctm":
        return "\n".join(f"{source} 1 {h.start:.3f} {h.end - h.start:.3f} {h.word} {h.score:.4f}"
                         for h in hits)
    lines = [f"{'word':<12}{'start':>9}{'end':>9}{'score':>11}{'margin':>10}"]
    lines += [f"{h.word:<12}{h.start:>9.3f}{h.end:>9.3f}{h.score:>11.4f}{h.margin:>10.4f}"
              for h in hits]
    return "\n".join(lines)
