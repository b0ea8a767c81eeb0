"""Pictures as PNG files: alignments, confusion matrices, rejection and learning curves.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot, no global state, no display),
so everything works headless.
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def _save(fig, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_alignment(
    path,
    *,
    features,
    feature_hop,
    distances,
    warp_path,
    frame_hop,
    template,
    template_name,
    query_name,
    posterior=None,
    energies=None,
    margin=None,
    title=None,
    template_hop=None,
    template_title="template",
):
    """Draw an utterance against a template: features, distances, warping path, energies.

    Parameters
    ----------
    features : array [T, D]
        The utterance's front-end features (drawn under the trellis, time in seconds).
    feature_hop : float
        Seconds between feature frames.
    distances : array [N, M]
        Local distances between the N frames that are aligned (front-end features or TDNN outputs)
        and the M template frames.
    warp_path : array [L, 2]
        The optimal warping path, pairs (query frame, template frame).
    frame_hop : float
        Seconds between the N aligned query frames (feature hop x TDNN subsampling).
    template : array [M, d]
        The template, drawn as a heat map beside the trellis (one row per template frame).
    template_name, query_name : str
        Axis labels.
    posterior : array [N, M], optional
        Soft alignment posterior (expected path occupancy), drawn in its own panel.
    energies : dict word -> float, optional
        Every word's energy, drawn as a bar chart with the margin in its title.
    template_hop : float, optional
        Seconds between template frames when the template is a recording; template frames otherwise.
    template_title : str
        Title of the template panel.
    """
    distances = np.asarray(distances, dtype=float)
    warp_path = np.asarray(warp_path)
    n, m = distances.shape
    panels = 2 + (posterior is not None) + (energies is not None)
    widths = [1.2, 4] + [4] * (posterior is not None) + [2.2] * (energies is not None)
    fig = Figure(figsize=(3.2 + 2.8 * (panels - 1), 5.6), layout="constrained")
    grid = fig.add_gridspec(2, panels, width_ratios=widths, height_ratios=[3.2, 1.3])
    y_scale = template_hop or 1.0
    y_label = f"{template_name} ({'s' if template_hop else 'frame'})"
    extent = (0, n * frame_hop, 0, m * y_scale)

    ax_template = fig.add_subplot(grid[0, 0])
    ax_template.imshow(
        np.asarray(template, dtype=float), aspect="auto", origin="lower", cmap="magma",
        extent=(0, np.shape(template)[1], 0, m * y_scale), interpolation="nearest",
    )
    ax_template.set_ylabel(y_label)
    ax_template.set_xlabel("dimension")
    ax_template.set_title(template_title, fontsize=9)

    ax_trellis = fig.add_subplot(grid[0, 1], sharey=ax_template)
    image = ax_trellis.imshow(
        distances.T, aspect="auto", origin="lower", cmap="viridis", extent=extent,
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax_trellis, label="local distance")
    px = (warp_path[:, 0] + 0.5) * frame_hop
    py = (warp_path[:, 1] + 0.5) * y_scale
    ax_trellis.plot(px, py, color="red", linewidth=1.6, label="optimal warping path")
    ax_trellis.legend(loc="upper left", fontsize=8)
    ax_trellis.set_title("local distances and optimal warping path", fontsize=9)
    ax_trellis.tick_params(labelleft=False)

    column = 2
    if posterior is not None:
        ax_post = fig.add_subplot(grid[0, column], sharey=ax_template)
        image = ax_post.imshow(
            np.asarray(posterior, dtype=float).T, aspect="auto", origin="lower", cmap="Greys",
            extent=extent, vmin=0, vmax=1, interpolation="nearest",
        )
        ax_post.plot(px, py, color="red", linewidth=0.8, alpha=0.6)
        fig.colorbar(image, ax=ax_post, label="P(cell on path)")
        ax_post.set_title("soft alignment posterior", fontsize=9)
        ax_post.tick_params(labelleft=False)
        column += 1

    ax_features = fig.add_subplot(grid[1, 1])
    feats = np.asarray(features, dtype=float)
    ax_features.imshow(
        feats.T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
        extent=(0, len(feats) * feature_hop, 0, feats.shape[1]),
    )
    ax_features.set_xlim(ax_trellis.get_xlim())
    ax_features.set_xlabel(f"{query_name} (s)")
    ax_features.set_ylabel("feature")
    ax_features.set_title("front-end features", fontsize=9)

    if energies is not None:
        ax_energy = fig.add_subplot(grid[:, column])
        words = list(energies)
        values = np.array([energies[w] for w in words], dtype=float)
        colors = ["tab:green" if v == values.min() else "tab:gray" for v in values]
        ax_energy.barh(range(len(words)), values, color=colors)
        ax_energy.set_yticks(range(len(words)), words)
        ax_energy.invert_yaxis()
        ax_energy.set_xlabel("energy")
        label = "energy of each word"
        if margin is not None:
            label += f"\nmargin {margin:.3f}"
        ax_energy.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_confusion(path, confusion, words, title="Confusion matrix"):
    """Confusion matrix [W, W] as a heat map with counts; rows true words, columns answers."""
    confusion = np.asarray(confusion)
    size = max(4.0, 0.45 * len(words) + 2)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.add_subplot()
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = range(len(words))
    ax.set_xticks(ticks, words, rotation=90 if len(words) > 12 else 0)
    ax.set_yticks(ticks, words)
    ax.set_xlabel("recognized word")
    ax.set_ylabel("true word")
    if len(words) <= 40:
        threshold = confusion.max() / 2 if confusion.size else 0
        for (i, j), count in np.ndenumerate(confusion):
            if count:
                color = "white" if count > threshold else "black"
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set_title(title)
    return _save(fig, path)


def plot_rejection_curve(path, curves, title="Accuracy-rejection curve"):
    """Error among accepted utterances against the rejection rate, one line per curve.

    ``curves`` maps a label to the list of points of :func:`asr.evaluate.rejection_curve`.
    """
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    top = 1.0
    for label, curve in curves.items():
        rejection = [100 * p["rejection"] for p in curve]
        error = [100 * p["error"] for p in curve]
        top = max(top, *error)
        ax.step(rejection, error, where="post", label=label)
    for target in (1.0, 0.1):
        ax.axhline(target, color="gray", linestyle=":", linewidth=0.8)
    ax.set_xlabel("rejected (%)")
    ax.set_ylabel("error among accepted (%)")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(0, top * 1.5)
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def plot_learning_curves(path, curves, ylabel="validation accuracy", title="Learning curves"):
    """One line per run: ``curves`` maps a label to a list of (epoch, value)."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for label, points in curves.items():
        if points:
            epochs, values = zip(*points, strict=True)
            ax.plot(epochs, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(title)
    return _save(fig, path)


def plot_energy_distributions(path, distributions, title="Energies after training"):
    """Histograms of the correct answer's energy and the most offending one's, one panel per run.

    ``distributions`` maps a label to a pair of arrays (E_C, E_I). A collapsed machine shows both
    histograms piled up at the same value.
    """
    labels = list(distributions)
    cols = min(3, len(labels)) or 1
    rows = (len(labels) + cols - 1) // cols or 1
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
    for index, label in enumerate(labels):
        e_correct, e_offending = (np.asarray(a, dtype=float) for a in distributions[label])
        ax = fig.add_subplot(rows, cols, index + 1)
        both = np.concatenate([e_correct, e_offending])
        low, high = (both.min(), both.max()) if both.size else (0.0, 1.0)
        bins = np.linspace(low, high if high > low else low + 1e-6, 40)
        ax.hist(e_correct, bins=bins, alpha=0.6, label="correct $E_C$", color="tab:green")
        ax.hist(e_offending, bins=bins, alpha=0.6, label="most offending $E_I$", color="tab:red")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("energy")
        if index == 0:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
