"""Live spotting speed: the real-time factor of ``asr listen`` on one core, against a peer.

A synthetic stream (``--seconds`` of audio: FSDD clips of the experiment's vocabulary, pauses,
noise at 20 dB, seed 0) is spotted by the experiment's trained templates (a 10-word vocabulary
for an FSDD model) in two ways, on ``--threads`` threads (1 by default: the target is one core):

- ``listen``: the live engine fed 20 ms chunks, as ``asr listen --stdin`` reads them (blocks of
  4 feature frames, hits decided within 0.3 s of a word's end);
- ``whole file`` (the peer): the same engine with blocks of 4096 frames, i.e. ``asr spot``-style
  batch processing of the file in large matrix products, no latency bound.

The real-time factor (RTF) is the wall time over the audio duration (lower is faster; the target
is RTF < 0.2 for ``listen``), the median of ``--repeats`` runs after one warm-up run (Numba
compilation excluded). The hits of the two runs are compared too (equal words and times up to
float rounding, since both run the same arithmetic in different block sizes).

Usage (from the repository root, with a trained experiment)::

    .venv/bin/python benchmarks/bench_listen.py --exp recipes/fsdd/exp/spotting/train
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_dtw.py

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from asr.checkpoint import load_recognizer  # noqa: E402
from asr.corpora import Utterance  # noqa: E402
from asr.spotting.engine import Spotter  # noqa: E402
from asr.spotting.streams import make_stream  # noqa: E402

FSDD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd" / "recordings"


def run(rec, frontend, wave, chunk, block):
    spotter = Spotter(rec, frontend, thresholds=float("inf"), block=block)
    hits, start = [], time.perf_counter()
    for i in range(0, len(wave), chunk):
        hits += spotter.push(wave[i:i + chunk])
    hits += spotter.flush()
    return time.perf_counter() - start, hits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", required=True)
    parser.add_argument("--data", default=str(FSDD), help="FSDD recordings folder.")
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    rec, config = load_recognizer(args.exp)
    fe = config.frontend
    clips = sorted(Path(args.data).glob("*_george_*.wav"))
    utts = [Utterance(p.stem, p, p.stem.split("_")[0], "george", 0.0) for p in clips
            if p.stem.split("_")[0] in rec.words]
    n_clips = max(1, int(args.seconds * 0.1 / 0.45))
    wave, _ = make_stream(utts, fe.sample_rate, clips=n_clips, seed=0, snr_db=20.0,
                          filler_fraction=0.0)
    seconds = len(wave) / fe.sample_rate
    chunk = fe.sample_rate // 50
    rows = {}
    for name, block in (("listen", 4), ("whole file", 4096)):
        chunk_n = chunk if name == "listen" else len(wave)
        run(rec, fe, wave[: fe.sample_rate * 5], chunk_n, block)  # warm-up (JIT)
        times, hits = [], None
        for _ in range(args.repeats):
            t, hits = run(rec, fe, wave, chunk_n, block)
            times.append(t)
        rows[name] = {"seconds": statistics.median(times), "hits": hits}
    a, b = rows["listen"]["hits"], rows["whole file"]["hits"]
    same = len(a) == len(b) and all(x.word == y.word and abs(x.start - y.start) < 1e-6 and
                                    abs(x.score - y.score) < 1e-3 for x, y in zip(a, b,
                                                                                  strict=True))
    print(f"{seconds:.0f} s of audio, {len(rec.words)} words, {len(rec.template_lengths)} "
          f"templates, {args.threads} thread(s)")
    print(f"{'system':<12}{'wall s':>9}{'RTF':>8}{'x peer':>8}")
    peer = rows["whole file"]["seconds"]
    for name, row in rows.items():
        print(f"{name:<12}{row['seconds']:>9.2f}{row['seconds'] / seconds:>8.3f}"
              f"{row['seconds'] / peer:>8.2f}")
    print(f"hits: {len(a)} (listen) vs {len(b)} (whole file), equal: {same}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "audio_seconds": seconds, "threads": args.threads, "words": len(rec.words),
            "rtf": {k: v["seconds"] / seconds for k, v in rows.items()},
            "hits_equal": same}, indent=1))
    return 0 if np.isfinite(peer) else 1


if __name__ == "__main__":
    raise SystemExit(main())
