"""The time-delay neural network G_W: a stack of 1-D convolutions over time.

A TDNN layer (Waibel et al., 1989; Peddinti et al., 2015) looks at a window of ``context``
frames spaced ``dilation`` apart and may keep only every ``stride``-th output frame
(frame subsampling). Stacking layers widens the receptive field:

.. math::

    R = 1 + \\sum_{l=1}^{L} (k_l - 1)\\, d_l \\prod_{j<l} s_j, \\qquad S = \\prod_{l=1}^{L} s_l,

where :math:`k_l` is the context, :math:`d_l` the dilation and :math:`s_l` the stride of layer
:math:`l`. Every convolution is "valid"; each utterance is first padded at both ends by
repeating its edge frames (:math:`R - 1` frames in all), so an utterance of :math:`T` frames
gives about :math:`\\lceil T / S \\rceil` output frames and even a one-frame utterance gives one.
Normalization is per frame (layer norm), so an utterance's output never depends on the other
utterances of its batch nor on the padding.
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
NORMS = ("layer", "none")
OUTPUT_NORMS = ("none", "l2", "layer", "utterance")


class _FrameNorm(nn.Module):
    """LayerNorm over the channels of each frame of a [B, T, C] tensor (kept as its own module
    so that checkpoints keep their parameter names)."""

    def __init__(self, channels: int, affine: bool = True):
        super().__init__()
        self.norm = nn.LayerNorm(channels, elementwise_affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class Dropout(nn.Module):
    """Inverted dropout: in training each element is kept with probability :math:`q` and scaled
    by :math:`1/q`, so its expectation is unchanged; in evaluation the identity.

    On the CPU the masks are random bytes from NumPy's SFC64 generator (an element is dropped
    when its byte is below :math:`\\mathrm{round}(256 p)`, so :math:`q = 1 - \\mathrm{round}(256
    p) / 256`), seeded by one draw from torch's generator, so ``torch.manual_seed`` and torch's
    saved random state still fix every mask. torch's CPU Bernoulli sampler costs about ten
    times as much and was 15% of a TDNN training step. On other devices: torch's dropout.
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError("dropout probability must be in [0, 1)")
        self.p = p
        self.threshold = min(255, int(round(256 * p)))  # at least one byte value keeps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, True)
        seed = int(torch.randint(0, 2**62, (1,)))
        rng = np.random.Generator(np.random.SFC64(seed))
        keep = torch.from_numpy(rng.integers(0, 256, x.shape, dtype=np.uint8)) >= self.threshold
        return x * (keep.to(x.dtype) * (256.0 / (256 - self.threshold)))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class TDNNLayer(nn.Module):
    """One TDNN layer: valid dilated convolution, nonlinearity, frame norm, dropout.

    .. math:: h_t = \\mathrm{drop}(\\mathrm{norm}(f(b + \\sum_{i=0}^{k-1} A_i\\, x_{st + i d})))

    Parameters
    ----------
    in_dim, out_dim : int
        Channels in and out.
    context : int
        Number of input frames the layer looks at (kernel size :math:`k`).
    dilation : int
        Spacing :math:`d` between those frames.
    stride : int
        Keep every :math:`s`-th output frame (subsampling).
    activation : str
        One of ``relu``, ``gelu``, ``tanh``, ``sigmoid``.
    norm : str
        ``layer`` (per-frame layer norm) or ``none``.
    dropout : float
        Dropout probability after the layer.
    """

    def __init__(self, in_dim, out_dim, context=3, dilation=1, stride=1, activation="relu",
                 norm="layer", dropout=0.0):
        super().__init__()
        if context < 1 or dilation < 1 or stride < 1:
            raise ValueError("context, dilation and stride must be >= 1")
        self.context, self.dilation, self.stride = context, dilation, stride
        self.conv = nn.Conv1d(in_dim, out_dim, context, stride=stride, dilation=dilation)
        self.act = ACTIVATIONS[activation]()
        self.norm = _FrameNorm(out_dim) if norm == "layer" else nn.Identity()
        self.drop = Dropout(dropout) if dropout > 0 else nn.Identity()

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames out of a valid convolution: ``(L - d (k - 1) - 1) // s + 1``."""
        return (lengths - self.dilation * (self.context - 1) - 1) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map [B, T, in_dim] to [B, T_out, out_dim] (channels last)."""
        return self.drop(self.norm(self.act(self.affine(x))))

    def affine(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution written as a TDNN is usually described: splice the :math:`k` frames
        :math:`x_{st}, x_{st+d}, \\dots` of each output frame into one vector, then one matrix
        product. Channels last, [B, T, in_dim] -> [B, T_out, out_dim]; same result and
        parameters as ``self.conv`` on the transposed input. With channels last the per-frame
        layer norm needs no transposes; the whole network trains 1.4-1.6x as fast as the same
        layers written with ``nn.Conv1d`` (``benchmarks/bench_tdnn.py``)."""
        k, d, s = self.context, self.dilation, self.stride
        spliced = _Splice.apply(x, k, d, s)                               # [B, T_out, C * k]
        batch, frames, width = spliced.shape
        weight = self.conv.weight.reshape(self.conv.out_channels, width)
        return torch.addmm(self.conv.bias, spliced.view(batch * frames, width),
                           weight.t()).view(batch, frames, -1)


class _Splice(torch.autograd.Function):
    """[B, T, C] -> [B, T_out, C * k]: output frame t holds input frames st, st + d, ...,
    st + (k - 1) d, channel-major (the order of ``conv1d``'s weight [out, C, k]).

    Written as a Function for its backward: through ``unfold`` and a strided slice, autograd
    would fill and fold a zero tensor of the whole window span [B, T_out, C, (k - 1) d + 1];
    here the gradient is one zero tensor of the input's size and k strided additions.
    """

    @staticmethod
    def forward(ctx, x, k, d, s):
        x = x.contiguous()
        batch, length, channels = x.shape
        frames = (length - d * (k - 1) - 1) // s + 1
        if frames < 1:
            raise ValueError(f"{length} frames are fewer than the layer's window")
        bs, ts, cs = x.stride()
        view = x.as_strided((batch, frames, channels, k), (bs, s * ts, cs, d * ts))
        ctx.geometry = (x.shape, k, d, s, frames)
        return x.new_empty(view.shape).copy_(view).view(batch, frames, channels * k)

    @staticmethod
    def backward(ctx, grad):
        shape, k, d, s, frames = ctx.geometry
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        grad_x = grad.new_zeros(shape)
        per_offset = grad.reshape(shape[0], frames, shape[2], k)
        for i in range(k):
            grad_x[:, i * d:i * d + s * (frames - 1) + 1:s] += per_offset[..., i]
        return grad_x, None, None, None


class TDNN(nn.Module):
    """A stack of TDNN layers and an optional linear projection: (B, T, D_in) -> (B, T', d).

    Parameters
    ----------
    input_dim : int
        Feature dimension :math:`D_{in}` of the front end.
    dims, contexts, dilations, strides : sequence of int
        Per hidden layer: width, context (kernel size), dilation and stride. Equal lengths.
    output_dim : int or None
        Width :math:`d` of a final per-frame linear projection (no nonlinearity); ``None``
        to end on the last hidden layer.
    activation, norm, dropout
        As in :class:`TDNNLayer` (dropout is not applied to the projection).
    output_norm : str
        ``none``, ``l2`` (each output frame scaled to unit length, so squared distances lie
        in [0, 4]), ``layer`` (layer norm without gain or bias) or ``utterance`` (each output
        channel standardized over the utterance's frames, :math:`(y_t - \\bar y) /
        \\sqrt{\\sigma^2 + \\epsilon}`: mean and variance normalization of the learned
        features, as CMVN does for the front end's).
    input_skip : bool
        Append to each output frame the input frames it stands for (the mean of the ``S``
        input frames from :math:`jS`), scaled by a trained factor :math:`e^{a}` (``a`` starts
        at 0): a squared distance between outputs is then the learned distance plus
        :math:`e^{2a}` times the distance between (pooled) front-end features, so the model
        contains the identity front end as a special case. Output width ``d + D_in``.

    Examples
    --------
    >>> net = TDNN(13, dims=[32, 32], contexts=[5, 3], dilations=[1, 2], strides=[1, 2],
    ...            output_dim=8)
    >>> net.receptive_field, net.subsampling
    (9, 2)
    >>> [tuple(y.shape) for y in net.encode([torch.randn(20, 13), torch.randn(1, 13)])]
    [(10, 8), (1, 8)]
    """

    def __init__(self, input_dim: int, dims: Sequence[int] = (), contexts: Sequence[int] = (),
                 dilations: Sequence[int] = (), strides: Sequence[int] = (),
                 output_dim: int | None = None, activation: str = "relu", norm: str = "layer",
                 dropout: float = 0.0, output_norm: str = "none", input_skip: bool = False):
        super().__init__()
        n = len(dims)
        if not (len(contexts) == len(dilations) == len(strides) == n):
            raise ValueError("dims, contexts, dilations and strides must have the same length")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}")
        if output_norm not in OUTPUT_NORMS:
            raise ValueError(f"output_norm must be one of {OUTPUT_NORMS}")
        self.input_dim = input_dim
        layers, width = [], input_dim
        for dim, k, d, s in zip(dims, contexts, dilations, strides, strict=True):
            layers.append(TDNNLayer(width, dim, k, d, s, activation, norm, dropout))
            width = dim
        self.layers = nn.ModuleList(layers)
        self.project = nn.Linear(width, output_dim) if output_dim is not None else None
        self.output_dim = output_dim if output_dim is not None else width
        self.output_norm = output_norm
        self._out_layer_norm = (nn.LayerNorm(self.output_dim, elementwise_affine=False)
                                if output_norm == "layer" else None)
        self.input_skip = input_skip
        self.skip_log_scale = nn.Parameter(torch.zeros(1)) if input_skip else None
        if input_skip:
            self.output_dim += input_dim

    @property
    def receptive_field(self) -> int:
        """Input frames that one output frame depends on: :math:`R` above."""
        field, jump = 1, 1
        for layer in self.layers:
            field += (layer.context - 1) * layer.dilation * jump
            jump *= layer.stride
        return field

    @property
    def subsampling(self) -> int:
        """Input frames per output frame: the product of the strides, :math:`S` above."""
        factor = 1
        for layer in self.layers:
            factor *= layer.stride
        return factor

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames for inputs of ``lengths`` frames (after the edge padding)."""
        lengths = torch.as_tensor(lengths) + self.receptive_field - 1
        for layer in self.layers:
            lengths = layer.output_lengths(lengths)
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a padded batch.

        Parameters
        ----------
        x : Tensor [B, T, D_in]
            Features, utterance ``b`` valid in ``x[b, :lengths[b]]`` (the rest is ignored).
        lengths : LongTensor [B]
            Valid frames per utterance, each >= 1.

        Returns
        -------
        y : Tensor [B, T', d]
            Outputs; utterance ``b`` valid in ``y[b, :out_lengths[b]]``.
        out_lengths : LongTensor [B]
        """
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(f"expected input [B, T, {self.input_dim}], got {tuple(x.shape)}")
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=x.device)
        if lengths.numel() and int(lengths.min()) < 1:
            raise ValueError("every utterance needs at least one frame")
        y = self.pad_edges(x, lengths)
        for layer in self.layers:
            y = layer(y)
        if self.project is not None:
            y = self.project(y)
        if self.output_norm == "l2":
            y = nn.functional.normalize(y, dim=-1)
        elif self._out_layer_norm is not None:
            y = self._out_layer_norm(y)
        out_lengths = self.output_lengths(lengths)
        if self.output_norm == "utterance":
            y = _standardize_over_time(y, out_lengths)
        if self.input_skip:
            pooled = self._pooled_input(x, lengths, y.shape[1])
            y = torch.cat([y, self.skip_log_scale.exp() * pooled], dim=-1)
        return y, out_lengths

    def pad_edges(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """[B, T, D] -> [B, T + R - 1, D]: each utterance's first and last valid frames repeated,
        (R - 1) // 2 frames before it and the rest after (padded position p reads frame
        clamp(p - left, 0, len - 1)), so that every layer's convolution can stay "valid"."""
        field = self.receptive_field
        left = (field - 1) // 2
        pos = torch.arange(x.shape[1] + field - 1, device=x.device) - left
        index = torch.minimum(pos.clamp(min=0).unsqueeze(0), (lengths - 1).unsqueeze(1))
        return torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))

    def _pooled_input(self, x, lengths, frames):
        """[B, frames, D_in]: output frame j gets the mean of input frames jS .. jS + S - 1."""
        s = self.subsampling
        pos = torch.arange(frames, device=x.device)[:, None] * s + torch.arange(s, device=x.device)
        index = torch.minimum(pos.reshape(1, -1), (lengths - 1).unsqueeze(1))
        picked = torch.gather(x, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        return picked.view(x.shape[0], frames, s, x.shape[-1]).mean(dim=2)

    def encode(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Encode a list of utterances [T_i, D_in] in one batch; returns [T'_i, d] each."""
        if len(features) == 0:
            return []
        lengths = torch.tensor([f.shape[0] for f in features], dtype=torch.long)
        x = nn.utils.rnn.pad_sequence(list(features), batch_first=True)
        y, out_lengths = self(x, lengths)
        # One packing index, then views: slicing each utterance out of the padded batch would
        # make every slice's backward fill a zero tensor of the whole batch's size.
        valid = torch.arange(y.shape[1], device=y.device)[None, :] < out_lengths[:, None]
        return list(y[valid].split(out_lengths.tolist()))


def _standardize_over_time(y: torch.Tensor, lengths: torch.Tensor, eps: float = 1e-5):
    """Each channel of each utterance of ``y`` [B, T, d] minus its mean over the utterance's
    ``lengths`` valid frames, over the square root of its variance plus ``eps``."""
    mask = (torch.arange(y.shape[1], device=y.device)[None, :] < lengths[:, None])[..., None]
    count = lengths.clamp(min=1)[:, None, None].to(y.dtype)
    mean = (y * mask).sum(dim=1, keepdim=True) / count
    var = (((y - mean) * mask) ** 2).sum(dim=1, keepdim=True) / count
    return torch.where(mask, (y - mean) / torch.sqrt(var + eps), torch.zeros_like(y))
