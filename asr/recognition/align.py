"""Warping paths to look at: an utterance against a word's templates, or two recordings.

:func:`align_with_model` aligns the TDNN output :math:`G_W(X)` [N, d] of an utterance with the
best template [M, d] of a word, in the recognizer's own trellis (step pattern, band, gamma), and
returns everything the picture and the JSON need: local distances
:math:`c_{ij} = \\lVert G_W(X)_i - T_j \\rVert^2`, the optimal path, the soft alignment posterior
(expected occupancy of each cell) when :math:`\\gamma > 0`, and every word's energy.
:func:`align_recordings` is the model-free classic: plain DTW between the front-end features of two
recordings.
"""

import numpy as np
import torch

from asr.dtw.api import local_distances
from asr.errors import DataError


def align_with_model(recognizer, config, features, word=None):
    """Align one utterance's features [T, D] with the templates of ``word`` (default: the answer).

    Returns a dict with the recognized word, every word's energy, the margin, the chosen word and
    template, and the alignment (distances, path, posterior) of the best template.
    """
    from asr.dtw import dtw

    with torch.no_grad():
        energies = recognizer.energies([features])[0]
        encoded = recognizer.encode([features])[0]
    order = torch.argsort(energies)
    recognized = recognizer.words[int(order[0])]
    word = recognized if word is None else word
    if word not in recognizer.words:
        raise DataError(f"word {word!r} is not in the model's vocabulary "
                        f"({', '.join(recognizer.words)})")
    options = recognizer.dtw_options
    # the template recognition used: lowest energy as the recognizer computes it (normalized,
    # soft-min over paths at the model's gamma), not lowest raw accumulated cost
    index = recognizer.words.index(word)
    own = [t for t, w in enumerate(recognizer.template_word_list) if w == index]
    with torch.no_grad():
        template_energies = recognizer.template_distances([encoded])[0, own]
    k = int(torch.argmin(template_energies))
    template = recognizer.templates_of(word)[k]
    distances = local_distances(encoded, template, options.get("metric", "sqeuclidean"))
    alignment = dtw(distances.numpy(), step=options["step"], band=options.get("band"),
                    gamma=options.get("gamma", 0.0))
    encoder = getattr(recognizer, "encoder", None)
    subsampling = getattr(encoder, "subsampling", 1) if encoder is not None else 1
    return {
        "recognized": recognized,
        "word": word,
        "template": k,
        "energies": {w: float(e) for w, e in zip(recognizer.words, energies, strict=True)},
        "margin": float(energies[order[1]] - energies[order[0]]),
        "alignment_cost": float(alignment.cost),
        "template_energy": float(template_energies[k]),
        "frame_hop": config.frontend.hop_seconds * subsampling,
        "encoded": encoded.numpy(),
        "template_frames": template.numpy(),
        "distances": distances.numpy(),
        "path": np.asarray(alignment.path),
        "posterior": None if alignment.occupancy is None else np.asarray(alignment.occupancy),
    }


def align_recordings(features_a, features_b, step="symmetric2"):
    """Plain DTW between two recordings' front-end features [N, D] and [M, D].

    The normalized cost divides the path's cost by the step pattern's path weight (N + M for
    ``symmetric2``): the mean local distance along the path.
    """
    from asr.dtw import dtw
    from asr.dtw.steps import path_weight

    distances = local_distances(features_a, features_b)
    alignment = dtw(distances.numpy(), step=step)
    n, m = distances.shape
    return {"distances": distances.numpy(), "path": np.asarray(alignment.path),
            "alignment_cost": float(alignment.cost),
            "normalized_cost": float(alignment.cost / path_weight(step, n, m))}


def path_json(path, query_hop, template_hop=None):
    """The warping path as JSON-ready rows: frame indices and times in seconds."""
    rows = []
    for i, j in np.asarray(path).tolist():
        row = {"query_frame": i, "template_frame": j, "query_time": round(i * query_hop, 6)}
        if template_hop is not None:
            row["template_time"] = round(j * template_hop, 6)
        rows.append(row)
    return rows
