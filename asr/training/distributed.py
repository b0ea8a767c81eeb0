r"""Data-parallel training on :mod:`torch.distributed`: set-up, batch shards, gradient all-reduce.

Started by ``torchrun --nproc-per-node N -m asr train ...`` (or ``asr train --nproc N``, which
starts torchrun), every process runs the same training loop on the same data with the same
seed, so all of them draw the same global batches and the same augmentation. Process ``r`` of
``R`` then aligns only its shard of each global batch of :math:`B` utterances (the utterances
``r, r + R, r + 2R, ...`` of the batch), and the gradients are summed over processes:

.. math::

    \nabla \frac{1}{B} \sum_{b=1}^{B} \ell_b
    = \sum_{r=1}^{R} \nabla \Bigl( \frac{|S_r|}{B} \cdot \frac{1}{|S_r|}
      \sum_{b \in S_r} \ell_b \Bigr),

i.e. each process scales its shard's mean loss by :math:`|S_r| / B` and the gradients of the
TDNN and of the templates are all-reduced (summed) before the optimizer step, which every
process then takes identically. So, with the same seed and global batch, the model after any
number of steps is the one a single process would train, up to float rounding (and to the
dropout masks, which each process draws for its own shard: equal with ``model.dropout=0``).
Validation energies are computed shard by shard and summed into the whole matrix. Only rank 0
writes files (checkpoints, logs, metrics, results). Backend: ``nccl`` when CUDA is available,
``gloo`` otherwise. Outside torchrun (no ``WORLD_SIZE`` in the environment) nothing changes.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``rank`` of ``world_size`` processes, communicating by
    ``backend`` (None when not distributed)."""

    rank: int = 0
    world_size: int = 1
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files (rank 0)."""
        return self.rank == 0

    def shard(self, items: list) -> list:
        """This process's part of a global batch: items ``rank, rank + R, ...``."""
        return items[self.rank::self.world_size] if self.distributed else items

    def all_reduce_grads(self, parameters) -> None:
        """Sum every parameter's gradient over the processes (one flat buffer, one call)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        params = [p for p in parameters if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        offset = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def sum_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) a tensor whose rows each process filled in for its own shard (zeros
        elsewhere): every process gets the whole matrix."""
        if not self.distributed:
            return rows
        import torch.distributed as dist

        rows = rows.contiguous().clone()
        dist.all_reduce(rows, op=dist.ReduceOp.SUM)
        return rows

    def barrier(self) -> None:
        """Wait until every process has reached this point."""
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's value of ``flag`` on every process."""
        if not self.distributed:
            return flag
        import torch.distributed as dist

        value = torch.tensor([1 if flag else 0])
        dist.broadcast(value, src=0)
        return bool(value.item())


def setup() -> Context:
    """Join the process group torchrun describes (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``...),
    or return the single-process context when there is none."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        # the other ranks wait while rank 0 fills the feature cache (asr.train): on a large
        # corpus that outlasts the default 30-minute timeout of a collective call
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(hours=4))
    return Context(rank=dist.get_rank(), world_size=dist.get_world_size(), backend=backend)


def teardown(context: Context) -> None:
    """Leave the process group (after the last collective call), once every rank is done: a
    rank that left while rank 0 still wrote its results could abort in gloo's threads."""
    if context.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The command that runs ``asr <argv>`` in ``nproc`` processes on this machine:
    ``python -m torch.distributed.run --standalone --nproc-per-node N -m asr <argv>``."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={int(nproc)}", "-m", "asr", *argv]
