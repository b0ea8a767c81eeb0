"""Recognition speed of a trained experiment, end to end, against real time and a peer.

For every file of a manifest (the experiment's test set by default): read the audio, compute the
front end, encode with the TDNN and score every word by DTW against its templates, on
``--threads`` threads (1 by default: the target is one core), in two ways:

- ``asr recognize``: what the command does (:func:`asr.inference.recognize_files`, through
  :class:`asr.recognition.System`): each file read, normalized and scored on its own;
- ``one at a time``: the bare loop (features, ``Recognizer.energies``, argmin) without the
  System's bookkeeping.

The batch path (all files' features, then 64 utterances per DTW call) against one file at a time
is in ``bench_recognize_latency.py``.

The real-time factor is the audio duration over the wall time (higher is faster); the median of
``--repeats`` runs after one warm-up run (Numba compilation excluded).

The peer, measured in the same run on the same files and threads: the plain DTW
1-nearest-neighbour recognizer (the classic recognizer, every training utterance a template)
built from the experiment's training manifest with the same front end.

Usage (from the repository root, after ``make run``)::

    .venv/bin/python benchmarks/bench_recognize.py
    .venv/bin/python benchmarks/bench_recognize.py --exp EXP --manifest TEST.jsonl --json out.json
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
import torch  # noqa: E402

from asr.config import ModelConfig  # noqa: E402
from asr.corpora import read_manifest  # noqa: E402
from asr.features import FeatureCache, extract_features  # noqa: E402
from asr.inference import load_experiment, recognize_files  # noqa: E402
from asr.model import build_recognizer  # noqa: E402

TARGET_REAL_TIME = 100.0


def one_at_a_time(recognizer, config, paths) -> float:
    """Wall seconds to recognize every file on its own (features + energies + decision)."""
    start = time.perf_counter()
    with torch.no_grad():
        for path in paths:
            energies = recognizer.energies([extract_features(path, config.frontend)])
            int(energies.argmin())
    return time.perf_counter() - start


def as_asr_recognize(recognizer, config, paths) -> float:
    """Wall seconds of :func:`asr.inference.recognize_files` on every file."""
    start = time.perf_counter()
    results = recognize_files(recognizer, config, paths)
    assert all(r.error is None for r in results)
    return time.perf_counter() - start


def median_seconds(run, recognizer, config, paths, repeats) -> float:
    run(recognizer, config, paths[:5])  # warm-up: JIT, caches
    return statistics.median(run(recognizer, config, paths) for _ in range(repeats))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", default="recipes/fsdd/exp/standard/train")
    parser.add_argument("--manifest", default=None, help="default: the experiment's test.jsonl")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    recognizer, config = load_experiment(args.exp)
    data_dir = Path(json.loads((Path(args.exp) / "results.json").read_text())["data_dir"])
    test = read_manifest(args.manifest or data_dir / "test.jsonl")
    train = read_manifest(data_dir / "train.jsonl")
    paths = [u.path for u in test]
    audio = sum(u.duration for u in test)

    feats = FeatureCache(data_dir / ".cache" / "features").get(train, config.frontend)
    words = recognizer.words
    peer = build_recognizer(ModelConfig(kind="dtw1nn", step=recognizer.config.step), words,
                            config.frontend.dim, feats, [words.index(u.word) for u in train])
    peer.eval()

    rows = []
    for mode, run in (("asr recognize", as_asr_recognize), ("one at a time", one_at_a_time)):
        for name, model in (("asr (TDNN + templates)", recognizer), ("peer: DTW 1-NN", peer)):
            seconds = median_seconds(run, model, config, paths, args.repeats)
            rows.append({"mode": mode, "system": name, "templates": len(model.template_lengths),
                         "seconds": round(seconds, 3),
                         "real_time_factor": round(audio / seconds, 1)})
    print(f"{len(paths)} files, {audio:.1f} s of audio, {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"{'mode':<14} {'system':<24} {'templates':>9} {'seconds':>8} {'x real time':>12}")
    for r in rows:
        print(f"{r['mode']:<14} {r['system']:<24} {r['templates']:>9} {r['seconds']:>8.2f} "
              f"{r['real_time_factor']:>12.1f}")
    for ours, theirs in (rows[0:2], rows[2:4]):
        rate = ours["real_time_factor"]
        verdict = "met" if rate >= TARGET_REAL_TIME else "NOT met"
        print(f"{ours['mode']}: {rate / theirs['real_time_factor']:.1f}x the peer; target "
              f"{TARGET_REAL_TIME:.0f}x real time on {args.threads} thread(s): {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "files": len(paths),
                                               "audio_seconds": audio,
                                               "threads": args.threads}, indent=2) + "\n")


if __name__ == "__main__":
    main()
