"""Training cost at scale and data-parallel training, measured on real clips.

Two measurements, each against a peer run in the same invocation on the same machine:

1. **Scale projection** (``--sizes``): synthetic corpora of ``--words`` words (35, as Speech
   Commands) and N training clips, drawn (with reuse once exhausted) from the Arabic Speech
   Commands clips, are trained for 2 epochs with the recipe's config (epoch 1 aligns every word,
   epoch 2 is pruned). Each run reports the CPU seconds of each epoch (``process_time``: honest
   on a shared machine, and equal to wall time on a free core with 1 thread) and the peak RSS of
   the process. The mean epoch over a pruning cycle (one full, ``prune_full_every - 1`` pruned)
   is extrapolated linearly in N to ``--target`` clips (105,000 clips, 35 words). The RSS is
   projected as the largest run's peak plus the feature cache's bytes per clip (measured from
   its files) times the extra clips: an upper bound, as if every feature were resident (large
   cache entries are memory-mapped, so those pages are evictable page cache, not heap). Peer:
   the same largest run without pruning.
2. **Data parallel** (``--ddp``): one epoch on the largest size, 1 process x 2 threads against
   2 processes x 1 thread (``asr train --nproc 2``: torchrun, gloo); wall seconds of the epoch.

Usage (from the repository root; minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_train.py --corpus ../shared/data/arabic_speech_commands
    .venv/bin/python benchmarks/bench_train.py --sizes 700,1400 --ddp --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "recipes" / "arabic_speech_commands" / "conf" / "default.yaml"
EPOCH = re.compile(r"epoch (\d+): .*, ([\d.]+)s \(([\d.]+)s training, ([\d.]+)s CPU\)")
WRAPPER = ("import resource, runpy, sys\n"
           "try:\n"
           "    runpy.run_module('asr', run_name='__main__')\n"
           "finally:\n"
           "    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
           "    c = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
           "    print(f'MAXRSS_KB {max(r, c)}', file=sys.stderr)\n")


def synthetic_corpus(corpus: Path, out: Path, words: int, size: int, valid_per_word: int = 1):
    """``out/{train,valid}.jsonl``: ``size`` training clips of the first ``words`` words
    (official train speakers, reused with new ids once exhausted) and ``valid_per_word``
    validation clips per word."""
    from asr.corpora import Utterance, write_manifest
    from asr.corpora import arabic_speech_commands as asc

    splits = asc.prepare(corpus)
    vocab = sorted({u.word for u in splits["train"]})[:words]
    pool = [u for u in splits["train"] if u.word in vocab]
    pool.sort(key=lambda u: (u.id.split("/")[1], u.word))  # spread speakers and words
    train = []
    for k in range(size):
        u = pool[k % len(pool)]
        rep = k // len(pool)
        train.append(u if rep == 0 else Utterance(f"{u.id}#r{rep}", u.path, u.word, u.speaker,
                                                  u.duration))
    valid = [u for w in vocab for u in [v for v in splits["valid"] if v.word == w][:valid_per_word]]
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out / "train.jsonl", train)
    write_manifest(out / "valid.jsonl", valid)
    return out


def run_training(data: Path, exp: Path, config: Path, overrides, nproc: int = 1) -> dict:
    """Train in a subprocess; per-epoch (wall, training, CPU) seconds and peak RSS (MB)."""
    argv = ["train", "--data", str(data), "--exp", str(exp), "--config", str(config), "--quiet",
            *overrides]
    if nproc > 1:
        argv += ["--nproc", str(nproc)]
    env = dict(os.environ, OMP_NUM_THREADS="1" if nproc > 1 else os.environ.get(
        "OMP_NUM_THREADS", "2"))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *argv], env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"training failed:\n{proc.stderr[-3000:]}")
    epochs = {}
    for line in (exp / "log" / "train.log").read_text().splitlines():
        m = EPOCH.search(line)
        if m:
            epochs[int(m[1])] = {"wall": float(m[2]), "train": float(m[3]), "cpu": float(m[4])}
    rss = max(int(v) for v in re.findall(r"MAXRSS_KB (\d+)", proc.stderr)) / 1024
    return {"epochs": epochs, "peak_rss_mb": round(rss, 1), "process_wall": round(wall, 1)}


def cycle_mean(epochs: dict, full_every: int) -> float:
    """Mean CPU seconds of an epoch over a pruning cycle: one full (epoch 1), the rest pruned
    (epoch 2)."""
    full, pruned = epochs[1]["cpu"], epochs.get(2, epochs[1])["cpu"]
    return (full + (full_every - 1) * pruned) / full_every


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=REPO.parent / "shared" / "data" / "arabic_speech_commands")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--sizes", default="700,1400")
    parser.add_argument("--words", type=int, default=35)
    parser.add_argument("--target", type=int, default=105_000)
    parser.add_argument("--ddp", action="store_true", help="also 1x2 threads vs 2x1 processes")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from asr.config import load_config

    config = load_config(args.config)
    full_every = config.train.prune_full_every
    sizes = [int(s) for s in args.sizes.split(",")]
    report = {"load_average_start": os.getloadavg(), "config": str(args.config),
              "words": args.words, "target": args.target, "scale": [], "ddp": None}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        tmp = Path(tmp)
        one = ["train.epochs=2", "train.threads=1", "train.jobs=1"]
        for n in sizes:
            data = synthetic_corpus(args.corpus, tmp / f"data{n}", args.words, n)
            run = run_training(data, tmp / f"exp{n}", args.config, one)
            run.update(clips=n, cycle_cpu=round(cycle_mean(run["epochs"], full_every), 2))
            report["scale"].append(run)
            print(f"N={n}: epoch CPU s {[e['cpu'] for e in run['epochs'].values()]}, "
                  f"cycle mean {run['cycle_cpu']} s, peak RSS {run['peak_rss_mb']} MB",
                  flush=True)
        n = sizes[-1]
        peer = run_training(tmp / f"data{n}", tmp / f"peer{n}", args.config,
                            [*one, "train.prune_words=0"])
        peer_cpu = sum(e["cpu"] for e in peer["epochs"].values()) / len(peer["epochs"])
        report["peer_unpruned"] = {**peer, "clips": n, "epoch_cpu": round(peer_cpu, 2)}
        big = report["scale"][-1]
        small = report["scale"][0]
        per_clip = big["cycle_cpu"] / n
        cache = tmp / f"data{n}" / ".cache" / "features"
        feature_mb = sum(f.stat().st_size for f in cache.glob("feats-*.pt")) / 2**20
        slope = feature_mb / n  # MB per clip, every speed's copy and the validation clips
        report["rss_growth_small_to_large_mb"] = round(big["peak_rss_mb"]
                                                       - small["peak_rss_mb"], 1)
        report["projection"] = {
            "epoch_cpu_s": round(per_clip * args.target, 1),
            "epoch_cpu_s_unpruned": round(peer_cpu / n * args.target, 1),
            "peak_rss_mb": round(big["peak_rss_mb"] + slope * (args.target - n), 1),
            "rss_mb_per_1000_clips": round(1000 * slope, 2)}
        if args.ddp:
            data = tmp / f"data{n}"
            epoch1 = ["train.epochs=1", "train.jobs=1"]
            a = run_training(data, tmp / "ddp1", args.config, [*epoch1, "train.threads=2"])
            b = run_training(data, tmp / "ddp2", args.config, [*epoch1, "train.threads=1"],
                             nproc=2)
            report["ddp"] = {"clips": n, "1x2_epoch_wall": a["epochs"][1]["train"],
                             "2x1_epoch_wall": b["epochs"][1]["train"],
                             "1x2_process_wall": a["process_wall"],
                             "2x1_process_wall": b["process_wall"]}
    report["load_average_end"] = os.getloadavg()
    p = report["projection"]
    print(f"\n{args.words} words; pruned/unpruned epoch CPU on N={n}: "
          f"{big['cycle_cpu']:.1f} / {peer_cpu:.1f} s = {big['cycle_cpu'] / peer_cpu:.2f}x")
    print(f"projection to {args.target} clips: {p['epoch_cpu_s']:.0f} s/epoch on one core "
          f"({p['epoch_cpu_s_unpruned']:.0f} s unpruned), peak RSS {p['peak_rss_mb']:.0f} MB "
          f"({p['rss_mb_per_1000_clips']:.1f} MB per 1000 clips)")
    if report["ddp"]:
        d = report["ddp"]
        print(f"one epoch of N={n}: 1 process x 2 threads {d['1x2_epoch_wall']:.1f} s, "
              f"2 processes x 1 thread {d['2x1_epoch_wall']:.1f} s "
              f"(ratio {d['1x2_epoch_wall'] / d['2x1_epoch_wall']:.2f}x)")
    print(f"load average {report['load_average_start']} -> {report['load_average_end']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
