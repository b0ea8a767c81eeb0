"""Dynamic time warping: hard (min-sum) and soft (log-sum-exp) trellises, batched and
differentiable, with Numba kernels.

- :func:`dtw`: one cost matrix -> :class:`Alignment` (energy, best path, soft occupancy).
- :func:`dtw_energy`: a padded batch of cost matrices -> energies (autograd).
- :func:`pairwise_dtw`: all (query, template) pairs of two lists of sequences -> energies
  (autograd w.r.t. every sequence).
- :func:`local_distances`: the local cost matrix of two sequences (the metrics of
  :data:`METRICS`), as the energies use it.
- :func:`feasible`: whether a path exists for given lengths, step pattern and band.

The step patterns and the band are described in :mod:`asr.dtw.steps`, the recursions in
:mod:`asr.dtw.api`, the kernels (and how soft DTW avoids ``exp``/``log`` per cell) in
:mod:`asr.dtw._kernels`.

Compilation: the Numba kernels compile on first use (about 20 s per dtype on 2 busy cores) and
are cached on disk (``cache=True``): next to the sources when that directory is writable, else
in the user's cache directory; set ``NUMBA_CACHE_DIR`` to choose the place (e.g. for a
read-only install). Later processes load them in about a second.

Threads: ``numba.set_num_threads`` sets the DTW threads, ``torch.set_num_threads`` those of the
matrix products; they run one after the other. By default torch's OpenMP threads busy-wait
after each parallel region and then starve the Numba threads on a machine with few cores (a
2-thread call measured up to 50x slower); set ``OMP_WAIT_POLICY=PASSIVE`` in the environment
before torch is imported (the benchmark does) when using more than one thread.
"""

from asr.dtw.api import Alignment, dtw, dtw_energy, feasible, local_distances, pairwise_dtw
from asr.dtw.steps import METRICS, STEP_PATTERNS, DtwInputError, band_mask, path_weight

__all__ = [
    "METRICS",
    "STEP_PATTERNS",
    "Alignment",
    "DtwInputError",
    "band_mask",
    "dtw",
    "dtw_energy",
    "feasible",
    "local_distances",
    "pairwise_dtw",
    "path_weight",
]

from asr.dtw.subsequence import SubsequenceMatcher, subsequence_dtw  # noqa: E402

__all__ += ["SubsequenceMatcher", "subsequence_dtw"]
