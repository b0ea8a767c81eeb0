"""The TDNN G_W's training step against the same network written with ``nn.Conv1d``.

Both networks have the same weights and architecture (by default the Arabic Speech Commands
recipe's: 39 MFCC inputs, three layers of 256 with contexts 5/3/3, dilations 1/2/3, strides
1/2/2, dropout 0.1, a projection to 64, 25 output frames per second). The peer is the textbook
torch module: channels first, ``nn.Conv1d`` layers, a per-frame ``nn.LayerNorm`` between two
transposes, ``nn.Dropout``. Ours (:class:`asr.tdnn.TDNN`) splices frames into one matrix product,
keeps channels last, and draws its dropout masks from NumPy (see its docstrings). Each round
times a forward and backward pass of a batch of ``--batch`` utterances of 80-100 frames (the
sum of the outputs' squares as the loss) for each network, alternating, so that the machine's
drift hits both; the script prints the medians and their ratio, and the forward alone in
evaluation mode (recognition).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_tdnn.py [--threads 1,2] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from asr.tdnn import TDNN


class ConvTDNN(nn.Module):
    """The peer: the same layers as :class:`asr.tdnn.TDNN` with ``nn.Conv1d`` (channels first)."""

    def __init__(self, ours: TDNN, dropout: float):
        super().__init__()
        self.pad_edges = ours.pad_edges  # the same input padding (not what is measured)
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        for layer in ours.layers:
            conv = nn.Conv1d(layer.conv.in_channels, layer.conv.out_channels, layer.context,
                             stride=layer.stride, dilation=layer.dilation)
            conv.load_state_dict(layer.conv.state_dict())
            norm = nn.LayerNorm(layer.conv.out_channels)
            norm.load_state_dict(layer.norm.norm.state_dict())
            self.convs.append(conv)
            self.norms.append(norm)
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(ours.project.in_features, ours.project.out_features)
        self.project.load_state_dict(ours.project.state_dict())

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h = self.pad_edges(x, lengths).transpose(1, 2)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = self.drop(norm(torch.relu(conv(h)).transpose(1, 2)).transpose(1, 2))
        return self.project(h.transpose(1, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.manual_seed(0)
    ours = TDNN(39, [256, 256, 256], [5, 3, 3], [1, 2, 3], [1, 2, 2], output_dim=64,
                dropout=0.1)
    peer = ConvTDNN(ours, 0.1)
    lengths = torch.randint(80, 101, (args.batch,))
    x = torch.randn(args.batch, int(lengths.max()), 39)
    with torch.no_grad():
        ours.eval()
        peer.eval()
        gap = (ours(x, lengths)[0] - peer(x, lengths)).abs().max().item()
    print(f"TDNN 39 -> 3 x 256 -> 64, strides 1/2/2, batch {args.batch} of 80-100 frames; "
          f"largest output difference ours - peer: {gap:.1e}")
    print(f"{'threads':>7s} {'pass':>15s} {'Conv1d peer s':>14s} {'asr.tdnn s':>11s} {'ratio':>6s}")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for mode in ("train fwd+bwd", "eval fwd"):
            times = {"peer": [], "ours": []}
            for r in range(args.rounds + 1):
                for name, net in (("peer", peer), ("ours", ours)):
                    net.train(mode.startswith("train"))
                    net.zero_grad(set_to_none=True)
                    start = time.perf_counter()
                    if mode.startswith("train"):
                        out = net(x, lengths)
                        out = out[0] if isinstance(out, tuple) else out
                        out.square().sum().backward()
                    else:
                        with torch.no_grad():
                            net(x, lengths)
                    if r:  # the first round warms up
                        times[name].append(time.perf_counter() - start)
            peer_s, ours_s = statistics.median(times["peer"]), statistics.median(times["ours"])
            print(f"{threads:7d} {mode:>15s} {peer_s:14.4f} {ours_s:11.4f} "
                  f"{peer_s / ours_s:5.2f}x")


if __name__ == "__main__":
    main()
