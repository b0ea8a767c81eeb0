"""On-disk feature cache: the features of a file list are computed once per front end and speed.

A cache entry is one ``feats-<key>.pt`` file holding a dict of plain tensors (all frames
concatenated, plus the lengths), written atomically and read back with
``torch.load(weights_only=True)``, so loading never runs pickled code. The key is a SHA-256 of
the front-end config, the speed and, for every file, its absolute path, size and modification
time: editing, adding or removing a file, or changing any front-end parameter, gives a new entry.

Entries of ``MMAP_MIN_BYTES`` or more are memory-mapped (``torch.load(mmap=True)``), freshly
computed ones included (they are written, then mapped back): the features of a large corpus are
paged in from disk as they are read, and memory does not grow with the corpus. Smaller entries
are read into memory (a mapped file truncated in place under a running process would fault).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from asr.errors import AudioError
from asr.features.audio import speed_rate
from asr.features.config import FrontendConfig
from asr.features.frontend import raw_features
from asr.files import write_atomically

log = logging.getLogger(__name__)

CACHE_FORMAT = 2  # 2: deltas by arithmetic (float rounding differs from 1, a convolution)
# entries this large (bytes) are memory-mapped rather than read into memory
MMAP_MIN_BYTES = 64 << 20
# below this many files per worker, starting processes costs more than it saves
MIN_FILES_PER_JOB = 200


def default_jobs() -> int:
    """Number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _path_of(item) -> Path:
    return Path(os.path.abspath(getattr(item, "path", item)))


def cache_key(items: Sequence, config: FrontendConfig, speed: float = 1.0) -> str:
    """SHA-256 (hex) of the config, the speed and each file's (path, size, mtime)."""
    files = []
    for item in items:
        path = _path_of(item)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise AudioError(f"{path}: no such audio file") from None
        files.append([str(path), st.st_size, st.st_mtime_ns])
    blob = json.dumps(
        {"format": CACHE_FORMAT, "frontend": config.to_dict(),
         "speed_rate": speed_rate(config.sample_rate, speed), "files": files},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _init_worker():
    torch.set_num_threads(1)


def _compute_one(args) -> np.ndarray:
    path, config_dict, speed = args
    return raw_features(path, FrontendConfig.from_dict(config_dict), speed=speed).numpy()


def compute_all(
    paths: Sequence[Path], config: FrontendConfig, speed: float = 1.0, jobs: int | None = None
) -> list[torch.Tensor]:
    """Features of every file, in order; ``jobs`` worker processes (default: all cores).

    Workers are forked with one torch thread each; with fewer than
    ``MIN_FILES_PER_JOB`` files per worker the work is done in this process.
    """
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    jobs = min(jobs, max(1, len(paths) // MIN_FILES_PER_JOB))
    tasks = [(str(p), config.to_dict(), speed) for p in paths]
    if jobs == 1:
        return [raw_features(p, config, speed=speed) for p in paths]
    ctx = multiprocessing.get_context("fork")
    chunk = max(1, len(tasks) // (jobs * 8))
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker) as pool:
        return [torch.from_numpy(a) for a in pool.map(_compute_one, tasks, chunksize=chunk)]


class FeatureCache:
    """Features of utterance lists, computed once and kept under ``root``.

    Parameters
    ----------
    root : str or path-like
        Folder of the cache files (created on first write).

    Examples
    --------
    Features of a manifest at 8 kHz, then a 0.9-speed copy for augmentation::

        cache = FeatureCache("exp/feats")
        utts = read_manifest("data/fsdd/train.jsonl")
        feats = cache.get(utts, FrontendConfig(sample_rate=8000))
        slow = cache.get(utts, FrontendConfig(sample_rate=8000), speed=0.9)
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._memo: dict[str, list[torch.Tensor]] = {}

    def path_for(self, items: Sequence, config: FrontendConfig, speed: float = 1.0) -> Path:
        """The cache file that holds (or will hold) these features."""
        return self.root / f"feats-{cache_key(items, config, speed)[:32]}.pt"

    def get(
        self,
        items: Sequence,
        config: FrontendConfig,
        speed: float = 1.0,
        jobs: int | None = None,
    ) -> list[torch.Tensor]:
        """Features ``[T_i, config.dim]`` of each item (an Utterance or a path), in order.

        Loaded from the cache when the entry exists and is intact, computed (in parallel,
        ``jobs`` processes, default all cores) and stored otherwise; either way the returned
        tensors are views into one buffer (the mapped cache file, for a large entry): do not
        modify them in place.
        """
        key = cache_key(items, config, speed)
        if key in self._memo:
            return self._memo[key]
        path = self.root / f"feats-{key[:32]}.pt"
        feats = self._load(path, key, len(items), config.dim)
        if feats is None:
            feats = compute_all([_path_of(i) for i in items], config, speed, jobs)
            self._save(path, key, feats, config, speed)
            feats = self._load(path, key, len(items), config.dim) or feats  # mapped from disk
        self._memo[key] = feats
        return feats

    @staticmethod
    def _load(path: Path, key: str, n: int, dim: int) -> list[torch.Tensor] | None:
        if not path.is_file():
            return None
        try:
            mmap = path.stat().st_size >= MMAP_MIN_BYTES
            blob = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
            data, lengths = blob["features"], blob["lengths"]
            ok = (blob.get("key") == key and data.ndim == 2 and data.shape[1] == dim
                  and lengths.ndim == 1 and len(lengths) == n
                  and int(lengths.sum()) == data.shape[0])
        except Exception as exc:  # any damage means: recompute
            log.warning("feature cache %s is unreadable (%s); recomputing", path, exc)
            return None
        if not ok:
            log.warning("feature cache %s does not match its key; recomputing", path)
            return None
        return list(torch.split(data, lengths.tolist()))

    @staticmethod
    def _save(path: Path, key: str, feats, config: FrontendConfig, speed: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = torch.cat(feats) if feats else torch.zeros(0, config.dim)
        blob = {
            "key": key,
            "features": data.contiguous(),
            "lengths": torch.tensor([f.shape[0] for f in feats], dtype=torch.long),
            "frontend": json.dumps(config.to_dict(), sort_keys=True),
            "speed": float(speed),
        }
        write_atomically(path, lambda handle: torch.save(blob, handle))
