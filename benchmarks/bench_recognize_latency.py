"""Answer latency of ``asr recognize`` on one file, against the batch path, and its cold start.

Three figures, measured in the same run on the same files (``--files`` of the experiment's test
manifest by default) and threads:

- per-file latency: :meth:`asr.recognition.System.recognize` on each file after the models are
  loaded (read the audio, front end of every model and speed, energies, decision), which is what
  ``asr recognize`` does for each path it is given or reads on stdin; median, 90th percentile and
  maximum, against the 1 s target;
- the peer, the batch path of ``asr eval``: features of every file, then each model scores them all
  in one ``Recognizer.energies`` call (64 per DTW call), seconds per file amortized;
- cold start: the wall time of the whole command ``asr recognize --exp ... ONE.wav`` in a fresh
  process (Python start, imports, Numba cache load, checkpoint load, one answer), median of
  ``--cold-repeats``.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_recognize_latency.py --exp EXP [--exp EXP2] [--speed 0.9 ...]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_dtw.py

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from asr.corpora import read_manifest  # noqa: E402
from asr.recognition import System  # noqa: E402
from asr.recognition.ensemble import combine_energies  # noqa: E402

TARGET_SECONDS = 1.0


def per_file(system, paths, cpu=None) -> list[float]:
    """Wall seconds from path to answer, for each file (CPU seconds appended to ``cpu``: on a
    shared machine the wall time also counts waiting for a core)."""
    out = []
    for path in paths:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = system.recognize(path)
        out.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
        assert result.error is None, result.error
    return out


def batch(system, paths) -> float:
    """Seconds to answer every file the batch way: all features, then one energies call per
    model and speed (each file its own speaker, as in strict eval)."""
    start = time.perf_counter()
    raws = [system.raw(p) for p in paths]
    per_model = []
    for m, (recognizer, config) in enumerate(system.members):
        total = 0
        for speed in system.speeds:
            key = next(k for k, (fe, s) in system.streams.items()
                       if fe == config.frontend and s == speed)
            feats = [system.normalize(m, key, r[key]) for r in raws]
            with torch.no_grad():
                total = total + recognizer.energies(feats)
        per_model.append(total / len(system.speeds))
    energies = per_model[0] if len(per_model) == 1 else combine_energies(per_model)
    energies.argmin(dim=1)
    return time.perf_counter() - start


def cold_start(exps, path, speeds, repeats) -> float:
    """Median wall seconds of the whole ``asr recognize`` command in a fresh process."""
    command = [sys.executable, "-m", "asr.cli", "recognize", str(path)]
    for e in exps:
        command += ["--exp", str(e)]
    for s in speeds:
        command += ["--speed", str(s)]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", action="append", required=True)
    parser.add_argument("--speed", type=float, action="append", default=None)
    parser.add_argument("--manifest", default=None, help="default: the first exp's test.jsonl")
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    speeds = args.speed or [1.0]
    start = time.perf_counter()
    system = System.load(args.exp, speeds=speeds)
    load_seconds = time.perf_counter() - start
    manifest = args.manifest
    if manifest is None:
        results = json.loads((Path(args.exp[0]) / "results.json").read_text())
        manifest = Path(results["data_dir"]) / "test.jsonl"
    paths = [u.path for u in read_manifest(manifest)][: args.files]

    per_file(system, paths[:2])  # warm-up: Numba compilation and caches
    cpu = []
    latencies = per_file(system, paths, cpu)
    batch_seconds = batch(system, paths)
    cold = cold_start(args.exp, paths[0], speeds, args.cold_repeats)
    figures = {
        "files": len(paths), "threads": args.threads, "experiments": args.exp, "speeds": speeds,
        "load_seconds": round(load_seconds, 3),
        "latency_median": round(float(np.median(latencies)), 4),
        "latency_p90": round(float(np.percentile(latencies, 90)), 4),
        "latency_max": round(max(latencies), 4),
        "cpu_seconds_median": round(float(np.median(cpu)), 4),
        "batch_seconds_per_file": round(batch_seconds / len(paths), 4),
        "cold_start_seconds": round(cold, 3),
    }
    ratio = figures["latency_median"] / figures["batch_seconds_per_file"]
    verdict = "met" if figures["latency_p90"] < TARGET_SECONDS else "NOT met"
    print(f"{len(paths)} files, {len(args.exp)} model(s), speeds {speeds}, "
          f"{args.threads} thread(s)")
    print(f"models loaded in {load_seconds:.2f} s")
    print(f"per-file latency: median {figures['latency_median']:.3f} s, 90th percentile "
          f"{figures['latency_p90']:.3f} s, max {figures['latency_max']:.3f} s "
          f"(target < {TARGET_SECONDS:g} s: {verdict})")
    print(f"per-file CPU time: median {figures['cpu_seconds_median']:.3f} s")
    print(f"batch path: {figures['batch_seconds_per_file']:.3f} s per file; one at a time is "
          f"{ratio:.2f}x the batch path's time per file")
    print(f"cold start of the whole command on one file: {cold:.2f} s (median of "
          f"{args.cold_repeats})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
