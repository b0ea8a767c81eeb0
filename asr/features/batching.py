"""Batching helper: pad variable-length feature sequences into one tensor."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pad_batch(
    feats: Sequence[torch.Tensor], padding_value: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``B`` sequences ``[T_i, D]`` into ``[B, T_max, D]`` plus their lengths ``[B]``.

    Frames past ``lengths[b]`` of row ``b`` hold ``padding_value``.

    Examples
    --------
    >>> import torch
    >>> x, n = pad_batch([torch.ones(2, 3), torch.ones(4, 3)])
    >>> x.shape, n.tolist(), x[0, 2:].abs().sum().item()
    (torch.Size([2, 4, 3]), [2, 4], 0.0)
    """
    if len(feats) == 0:
        raise ValueError("pad_batch: empty list of sequences")
    dims = {tuple(f.shape[1:]) for f in feats}
    if any(f.ndim != 2 for f in feats) or len(dims) != 1:
        shapes = sorted({tuple(f.shape) for f in feats})[:4]
        raise ValueError(f"pad_batch: sequences must all be [T_i, D] with one D, got {shapes}")
    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence(
        list(feats), batch_first=True, padding_value=padding_value
    )
    return padded, lengths
