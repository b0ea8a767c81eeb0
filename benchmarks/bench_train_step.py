"""Training cost per batch of two or more experiments, measured interleaved in one process.

On a shared or throttled machine the speed drifts (here by up to a quarter within minutes), so
epoch times of runs made at different times cannot be compared. This script loads every
experiment once, then runs ``--rounds`` rounds; in each, every model takes two training steps
(forward through the TDNN and the DTW, MMI loss, backward) on the same batch, once aligning every
word ("full") and once its own word and 5 random others ("pruned", as competitor pruning does).
It prints the median seconds per batch and each model's ratio to the first (the peer), per mode
and over a pruning cycle of one full and ``--pruned-per-full`` pruned epochs.

Usage (from the repository root; seconds)::

    .venv/bin/python benchmarks/bench_train_step.py --exp PEER --exp NEW [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp", action="append", required=True, help="experiment (repeat)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--pruned-per-full", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    from asr.inference import load_experiment
    from asr.losses import functional

    models = {exp: load_experiment(exp)[0] for exp in args.exp}
    dims = {rec.input_dim for rec in models.values()}
    words = {len(rec.words) for rec in models.values()}
    if len(dims) != 1 or len(words) != 1:
        raise SystemExit("bench_train_step: the experiments need the same input and vocabulary")
    dim, num_words = dims.pop(), words.pop()
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(int(t), dim, generator=g)
             for t in torch.randint(80, 100, (args.batch,), generator=g)]
    labels = torch.randint(0, num_words, (args.batch,), generator=g)
    keep = torch.zeros(args.batch, num_words, dtype=torch.bool)
    rows = torch.arange(args.batch)
    keep[rows, labels] = True
    for _ in range(5):
        keep[rows, torch.randint(0, num_words, (args.batch,), generator=g)] = True
    modes = {"full": None, "pruned": keep}

    def step(rec, mask):
        energies = rec(feats, None, mask)
        if mask is not None:
            energies = torch.where(mask, energies, torch.full_like(energies, 50.0))
        functional.mmi(energies, labels).backward()

    times = {(exp, mode): [] for exp in models for mode in modes}
    for rec in models.values():
        rec.train()
        for mask in modes.values():
            step(rec, mask)  # warm-up (Numba compilation, allocator)
    for _ in range(args.rounds):
        for exp, rec in models.items():
            for mode, mask in modes.items():
                start = time.perf_counter()
                step(rec, mask)
                step(rec, mask)
                times[(exp, mode)].append((time.perf_counter() - start) / 2)
    median = {key: statistics.median(v) for key, v in times.items()}
    peer = args.exp[0]
    k = args.pruned_per_full
    print(f"{args.batch} clips of 80-100 frames, {args.threads} thread(s), median of {args.rounds}")
    print(f"{'experiment':40s} {'full s':>8s} {'pruned s':>9s} {'cycle s':>8s} {'vs peer':>8s}")
    for exp in models:
        cycle = (median[(exp, "full")] + k * median[(exp, "pruned")]) / (1 + k)
        peer_cycle = (median[(peer, "full")] + k * median[(peer, "pruned")]) / (1 + k)
        print(f"{exp:40s} {median[(exp, 'full')]:8.3f} {median[(exp, 'pruned')]:9.3f} "
              f"{cycle:8.3f} {cycle / peer_cycle:7.2f}x")


if __name__ == "__main__":
    main()
