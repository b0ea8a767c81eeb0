r"""Exponential moving average (EMA) of the weights, the model that is validated and kept.

After every optimizer step :math:`t` (counted from 0) each parameter's average moves towards it:

.. math::

    \bar\theta_t = d_t\,\bar\theta_{t-1} + (1 - d_t)\,\theta_t,
    \qquad d_t = \min\!\left(d, \frac{1 + t}{10 + t}\right),

so the first steps are not dominated by the initial weights (the warm-up of ``d_t``), and later
the average spans about :math:`1 / (1 - d)` steps. The training loop sets :math:`d` from
``train.ema_epochs``: :math:`d = 1 - 1 / (\text{ema\_epochs} \times \text{batches per
epoch})`.
The TDNN and the templates are averaged alike; buffers (the input standardization, the
template-to-word map) are not trained and are left as they are. Nothing else changes: the
gradients are taken at the raw weights :math:`\theta_t`, and only validation, ``best.pt`` and the
final scoring see :math:`\bar\theta`.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


class WeightAverage:
    """The EMA of a module's parameters.

    Parameters
    ----------
    module : torch.nn.Module
        The model being trained.
    decay : float
        :math:`d` in [0, 1) (an attribute: the training loop sets it each epoch).
    """

    def __init__(self, module: torch.nn.Module, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.module, self.decay, self.steps = module, float(decay), 0
        self.average = {name: p.detach().clone() for name, p in module.named_parameters()}

    @torch.no_grad()
    def update(self) -> None:
        """Fold the module's current parameters into the average (call after each step)."""
        d = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        for name, p in self.module.named_parameters():
            self.average[name].lerp_(p.detach(), 1.0 - d)
        self.steps += 1

    @contextmanager
    def swapped(self):
        """Within the block the module holds the averaged parameters; the raw ones after."""
        params = dict(self.module.named_parameters())
        with torch.no_grad():
            saved = {name: p.detach().clone() for name, p in params.items()}
            for name, p in params.items():
                p.copy_(self.average[name])
        try:
            yield self.module
        finally:
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(saved[name])
