"""The trainable front end G_W: a time-delay neural network (stack of dilated 1-D convolutions)."""

from asr.tdnn.tdnn import TDNN, TDNNLayer

__all__ = ["TDNN", "TDNNLayer"]
