"""Speed of :mod:`asr.dtw` against librosa, dtaidistance, tslearn and pysdtw (workload A).

Workload A: ``--queries`` (200) x ``--templates`` (40) random sequences, lengths uniform in
60..100, 39-dim, fixed seed, squared-Euclidean local distance, full DTW (no band), step
symmetric1 (the peers' common pattern). Every implementation scores all query x template pairs
from the raw sequences (building its own distance matrices), and the rate is reported in
Mcells/s, the sum of N*M over the pairs per second (median of ``--repeats`` runs after one
warm-up run, so JIT compilation is excluded; ``--jit`` measures it separately). Peers much slower
than ours run on the first ``--peer-queries`` queries only (a rate does not depend on the number
of pairs). Each peer's values are checked against ours on the pairs it scored.

Tasks: ``hard`` = DTW energies; ``hard+grad`` = energies and their gradient w.r.t. every
sequence (ours; the peers have no gradient, so the target compares it to dtaidistance's
forward); ``soft`` = soft-DTW energies at ``--gamma``; ``soft+grad`` = soft-DTW energies and
gradients (tslearn: ``soft_dtw_alignment``, i.e. the occupancy only; pysdtw: autograd to the
sequences, like ours).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_dtw.py            # full run, ~2-3 min on 2 cores
    .venv/bin/python benchmarks/bench_dtw.py --quick    # smoke test, a few seconds
"""

from __future__ import annotations

import os

# torch's OpenMP threads busy-wait after each parallel region by default; on a machine with
# few cores they then starve the Numba threads that run next (a 2-thread call can become 50x
# slower). This must be set before torch loads its OpenMP runtime; asr's docs recommend it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from asr.dtw import pairwise_dtw  # noqa: E402

TARGETS = [  # (our task, peer, peer task, minimum ratio)
    ("hard", "dtaidistance", "hard", 5.0),
    ("hard+grad", "dtaidistance", "hard", 2.5),
    ("soft+grad", "pysdtw", "soft+grad", 10.0),
]


def make_workload(n_queries, n_templates, min_len, max_len, dim, seed):
    """Random standard-normal sequences ``[T, dim]`` (float64) with lengths uniform in range."""
    rng = np.random.default_rng(seed)

    def seqs(count):
        return [
            rng.standard_normal((int(t), dim)) for t in rng.integers(min_len, max_len + 1, count)
        ]

    return seqs(n_queries), seqs(n_templates)


def n_cells(qs, ts):
    return sum(len(q) for q in qs) * sum(len(t) for t in ts)


def median_time(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up run; and its result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ----------------------------------------------------------------------------------------------
# ours


def ours(task, qs, ts, dtype, gamma):
    xs0 = [torch.from_numpy(q).to(dtype) for q in qs]
    ys0 = [torch.from_numpy(t).to(dtype) for t in ts]
    soft = task.startswith("soft")
    grad = task.endswith("+grad")

    def run():
        xs = [x.clone().requires_grad_(grad) for x in xs0]
        ys = [y.clone().requires_grad_(grad) for y in ys0]
        energies = pairwise_dtw(xs, ys, gamma=gamma if soft else 0.0)
        if grad:
            energies.sum().backward()
        return energies.detach().double().numpy()

    return run


# ----------------------------------------------------------------------------------------------
# peers (float64, symmetric1, squared Euclidean): each returns energies comparable with ours


def librosa_hard(qs, ts, threads, gamma):
    import librosa

    def run():
        return np.array(
            [
                [
                    librosa.sequence.dtw(q.T, t.T, metric="sqeuclidean", backtrack=False)[-1, -1]
                    for t in ts
                ]
                for q in qs
            ]
        )

    return run


def dtaidistance_hard(qs, ts, threads, gamma):
    from dtaidistance import dtw_ndim

    series = [np.ascontiguousarray(s) for s in qs + ts]
    block = ((0, len(qs)), (len(qs), len(qs) + len(ts)))

    def run():
        d = dtw_ndim.distance_matrix_fast(series, block=block, parallel=threads > 1)
        return d[: len(qs), len(qs) :] ** 2  # it returns the square root of the DTW energy

    return run


def tslearn_hard(qs, ts, threads, gamma):
    from tslearn.metrics import cdist_dtw
    from tslearn.utils import to_time_series_dataset

    a, b = to_time_series_dataset(qs), to_time_series_dataset(ts)

    def run():
        return cdist_dtw(a, b, n_jobs=threads) ** 2  # square root of the DTW energy

    return run


def tslearn_soft(qs, ts, threads, gamma):
    from tslearn.metrics import soft_dtw

    def run():
        return np.array([[soft_dtw(q, t, gamma=gamma) for t in ts] for q in qs])

    return run


def tslearn_soft_grad(qs, ts, threads, gamma):
    from tslearn.metrics import soft_dtw_alignment

    def run():
        return np.array([[soft_dtw_alignment(q, t, gamma=gamma)[1] for t in ts] for q in qs])

    return run


def _pysdtw(qs, ts, gamma, grad, batch=50):
    import pysdtw
    from torch.nn.utils.rnn import pack_sequence

    sdtw = pysdtw.SoftDTW(gamma=gamma, use_cuda=False)
    pairs = [(a, b) for a in range(len(qs)) for b in range(len(ts))]
    xs0 = [torch.from_numpy(q) for q in qs]
    ys0 = [torch.from_numpy(t) for t in ts]

    def run():
        xs = [x.clone().requires_grad_(grad) for x in xs0]
        ys = [y.clone().requires_grad_(grad) for y in ys0]
        out = []
        for k in range(0, len(pairs), batch):
            chunk = pairs[k : k + batch]
            X = pack_sequence([xs[a] for a, _ in chunk], enforce_sorted=False)
            Y = pack_sequence([ys[b] for _, b in chunk], enforce_sorted=False)
            e = sdtw(X, Y)
            if grad:
                e.sum().backward()
            out.append(e.detach())
        return torch.cat(out).numpy().reshape(len(qs), len(ts))

    return run


def pysdtw_soft(qs, ts, threads, gamma):
    return _pysdtw(qs, ts, gamma, grad=False)


def pysdtw_soft_grad(qs, ts, threads, gamma):
    return _pysdtw(qs, ts, gamma, grad=True)


PEERS = {  # task -> [(name, builder, runs on the peer subset)]
    "hard": [
        ("librosa", librosa_hard, True),
        ("dtaidistance", dtaidistance_hard, False),
        ("tslearn", tslearn_hard, True),
    ],
    "hard+grad": [],
    "soft": [("tslearn", tslearn_soft, True), ("pysdtw", pysdtw_soft, True)],
    "soft+grad": [("tslearn", tslearn_soft_grad, True), ("pysdtw", pysdtw_soft_grad, True)],
}


# ----------------------------------------------------------------------------------------------


def jit_latency():
    """Seconds to the first result of a fresh process, with a cold and with a warm Numba cache."""
    code = (
        "import time; t = time.perf_counter(); import torch; from asr.dtw import pairwise_dtw;"
        "x = [torch.randn(7, 3, requires_grad=True)]; y = [torch.randn(5, 3)];"
        "[pairwise_dtw(x, y, step=s, gamma=g).sum().backward() for s in ('symmetric1',"
        " 'symmetric2', 'asymmetric') for g in (0.0, 1.0)]; print(time.perf_counter() - t)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold cache", "warm cache"):
            res = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            out[label] = float(res.stdout.strip().splitlines()[-1])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--templates", type=int, default=40)
    parser.add_argument("--min-len", type=int, default=60)
    parser.add_argument("--max-len", type=int, default=100)
    parser.add_argument("--dim", type=int, default=39)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gamma", type=float, default=1.0)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--peer-queries",
        type=int,
        default=50,
        help="queries scored by the slow peers (librosa, tslearn, pysdtw)",
    )
    parser.add_argument("--tasks", default="hard,hard+grad,soft,soft+grad")
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--jit", action="store_true", help="also measure first-call latency")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 12 queries x 8 templates, 1 repeat"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.queries, args.templates, args.peer_queries, args.repeats = 12, 8, 6, 1

    qs, ts = make_workload(
        args.queries, args.templates, args.min_len, args.max_len, args.dim, args.seed
    )
    peer_qs = qs[: args.peer_queries]
    tasks = args.tasks.split(",")
    print(
        f"# asr.dtw benchmark: workload A, {len(qs)} x {len(ts)} pairs, lengths "
        f"{args.min_len}..{args.max_len}, dim {args.dim}, seed {args.seed}, gamma {args.gamma}"
    )
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, numba {numba.__version__}, "
        f"threading layer {numba.config.THREADING_LAYER}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
    )
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        numba.set_num_threads(threads)
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            for task in tasks:
                reference = None
                for dtype in (torch.float64, torch.float32):
                    sec, values = median_time(ours(task, qs, ts, dtype, args.gamma), args.repeats)
                    if dtype == torch.float64:
                        reference = values
                    rows.append(
                        dict(
                            threads=threads,
                            task=task,
                            impl="asr.dtw",
                            dtype=str(dtype)[6:],
                            seconds=sec,
                            mcells=n_cells(qs, ts) / sec / 1e6,
                            max_rel_diff=0.0,
                        )
                    )
                for name, build, subset in [] if args.no_peers else PEERS[task]:
                    pq = peer_qs if subset else qs
                    sec, values = median_time(build(pq, ts, threads, args.gamma), args.repeats)
                    ref = reference[: len(pq)]
                    diff = float(np.max(np.abs(values - ref) / np.maximum(np.abs(ref), 1.0)))
                    rows.append(
                        dict(
                            threads=threads,
                            task=task,
                            impl=name,
                            dtype="float64",
                            seconds=sec,
                            mcells=n_cells(pq, ts) / sec / 1e6,
                            max_rel_diff=diff,
                        )
                    )
    report(rows, tasks)
    result = dict(args=vars(args), rows=rows)
    if args.jit:
        result["jit"] = jit_latency()
        print(
            "\nfirst-call latency (fresh process, all patterns, hard+soft with backward): "
            + ", ".join(f"{k} {v:.1f} s" for k, v in result["jit"].items())
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


def _rate(rows, threads, task, impl, dtype="float64"):
    for r in rows:
        if (r["threads"], r["task"], r["impl"], r["dtype"]) == (threads, task, impl, dtype):
            return r["mcells"]
    return None


def report(rows, tasks):
    print(
        "\n| threads | task | implementation | dtype | Mcells/s | asr.dtw (float64) / this "
        "| max rel. diff vs asr.dtw |"
    )
    print("|---:|---|---|---|---:|---:|---:|")
    for r in rows:
        mine = _rate(rows, r["threads"], r["task"], "asr.dtw")
        ratio = mine / r["mcells"]
        print(
            f"| {r['threads']} | {r['task']} | {r['impl']} | {r['dtype']} | {r['mcells']:.1f} "
            f"| {ratio:.2f}x | {r['max_rel_diff']:.1e} |"
        )
    print("\ntargets (asr.dtw float64 vs peer, same threads):")
    for task, peer, peer_task, minimum in TARGETS:
        for threads in sorted({r["threads"] for r in rows}):
            mine = _rate(rows, threads, task, "asr.dtw")
            theirs = _rate(rows, threads, peer_task, peer)
            if mine is None or theirs is None:
                continue
            ratio = mine / theirs
            verdict = "ok" if ratio >= minimum else "MISSED"
            print(
                f"  {threads} thread(s): {task} vs {peer} {peer_task}: {ratio:.1f}x "
                f"(target >= {minimum:g}x) {verdict}"
            )


if __name__ == "__main__":
    main()
