"""Every picture renders headless to a valid PNG."""

import numpy as np
import pytest
from matplotlib.image import imread

from asr import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_width=300):
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = imread(path)
    assert image.shape[1] >= min_width
    assert image.std() > 0.01  # not a blank canvas


@pytest.mark.parametrize("with_posterior", [False, True])
def test_alignment_picture(tmp_path, with_posterior):
    rng = np.random.default_rng(0)
    n, m = 30, 20
    path = np.array([(i, min(m - 1, i * m // n)) for i in range(n)])
    out = plots.plot_alignment(
        tmp_path / "align.png",
        features=rng.normal(size=(60, 13)),
        feature_hop=0.01,
        distances=rng.random((n, m)),
        warp_path=path,
        frame_hop=0.02,
        template=rng.normal(size=(m, 8)),
        template_name="template of 'seven'",
        query_name="utterance",
        posterior=rng.random((n, m)) if with_posterior else None,
        energies={"one": 1.0, "two": 0.5, "seven": 0.2},
        margin=0.3,
        title="test",
    )
    assert_png(out, min_width=600)


def test_confusion_rejection_learning_and_energy_pictures(tmp_path):
    assert_png(plots.plot_confusion(tmp_path / "c.png", np.eye(3, dtype=int) * 5, list("abc")))
    curve = [
        {"threshold": 1.0, "rejection": 0.0, "error": 0.1},
        {"threshold": 2.0, "rejection": 0.5, "error": 0.0},
        {"threshold": float("inf"), "rejection": 1.0, "error": 0.0},
    ]
    assert_png(plots.plot_rejection_curve(tmp_path / "r.png", {"mmi": curve}))
    curves = {"mmi": [(1, 0.5), (2, 0.9)], "energy": [(1, 0.1), (2, 0.1)]}
    assert_png(plots.plot_learning_curves(tmp_path / "l.png", curves))
    rng = np.random.default_rng(1)
    dists = {"mmi": (rng.random(50), rng.random(50) + 1), "energy": (np.zeros(50), np.zeros(50))}
    assert_png(plots.plot_energy_distributions(tmp_path / "e.png", dists))
