"""Dynamic time warping: hard (min-sum) and soft (log-sum-exp) trellises, batched and
differentiable, with Numba kernels.

- :func:`dtw`: one cost matrix -> :class:`Alignment` (energy, best path, soft occupancy).
- :func:`dtw_energy`: a padded batch of cost matrices -> energies (autograd).
- :func:`pairwise_dtw`: all (query, template) pairs of two lists of sequences -> energies
  (autograd w.r.t. every sequence).
- :func:`feasible`: whether a path exists for given lengths, step pattern and band.

The step patterns and the band are described in :mod:`asr.dtw.steps`, the recursions in
:mod:`asr.dtw.api`. The kernels are compiled by Numba on first use and cached on disk
(``cache=True``): next to the sources when writable, else in the user cache directory; set
``NUMBA_CACHE_DIR`` to choose the place (e.g. for a read-only install).
"""

from asr.dtw.api import Alignment, dtw, dtw_energy, feasible, pairwise_dtw
from asr.dtw.steps import STEP_PATTERNS, DtwInputError, band_mask, path_weight

__all__ = [
    "STEP_PATTERNS",
    "Alignment",
    "DtwInputError",
    "band_mask",
    "dtw",
    "dtw_energy",
    "feasible",
    "pairwise_dtw",
    "path_weight",
]
