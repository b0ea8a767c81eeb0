"""The loss family on energies (LeCun et al. 2006): one function per loss, and a registry by name.

>>> import torch
>>> from asr.losses import LOSSES
>>> energies = torch.tensor([[1.0, 3.0, 2.0]])
>>> float(LOSSES["hinge"](energies, torch.tensor([0]), margin=2.0))  # max(0, 2 + 1 - 2)
1.0
"""

from asr.losses.functional import (
    correct_and_offending,
    energy,
    hinge,
    log,
    lvq2,
    mce,
    mmi,
    perceptron,
    square_exp,
    square_square,
)

LOSSES = {
    "energy": energy,
    "perceptron": perceptron,
    "hinge": hinge,
    "log": log,
    "lvq2": lvq2,
    "mce": mce,
    "mmi": mmi,
    "square-square": square_square,
    "square-exp": square_exp,
}

__all__ = [
    "LOSSES",
    "correct_and_offending",
    "energy",
    "hinge",
    "log",
    "lvq2",
    "mce",
    "mmi",
    "perceptron",
    "square_exp",
    "square_square",
]
