"""The TDNN: receptive field and subsampling as measured, lengths, padding, batch independence."""

import pytest
import torch

from asr.tdnn import TDNN
from asr.tdnn.tdnn import Dropout, TDNNLayer

SHAPES = [
    # dims, contexts, dilations, strides
    ([8], [3], [1], [1]),
    ([8, 8, 8], [5, 3, 3], [1, 2, 3], [1, 2, 1]),
    ([8, 8], [3, 3], [2, 1], [2, 2]),
    ([8, 8, 8], [1, 3, 5], [1, 1, 2], [3, 1, 1]),
]


def make(shape, **kw):
    torch.manual_seed(0)
    dims, contexts, dilations, strides = shape
    return TDNN(5, dims, contexts, dilations, strides, **kw).eval()


def measured_support(net, frames=80):
    """Input frames that move output frame ``out`` (the middle one), found by autograd."""
    x = torch.randn(1, frames, 5, requires_grad=True)
    y, _ = net(x, torch.tensor([frames]))
    out = y.shape[1] // 2
    (grad,) = torch.autograd.grad(y[0, out].sum(), x)
    touched = torch.nonzero(grad[0].abs().sum(dim=1) > 0).flatten()
    return out, int(touched.min()), int(touched.max())


@pytest.mark.parametrize("shape", SHAPES)
def test_receptive_field_and_subsampling_match_autograd(shape):
    net = make(shape, output_dim=4, norm="none", activation="tanh")
    out, first, last = measured_support(net)
    assert last - first + 1 == net.receptive_field
    # consecutive output frames start `subsampling` input frames apart
    _, first_next, _ = measured_support_at(net, out + 1)
    assert first_next - first == net.subsampling


def measured_support_at(net, out, frames=80):
    x = torch.randn(1, frames, 5, requires_grad=True)
    y, _ = net(x, torch.tensor([frames]))
    (grad,) = torch.autograd.grad(y[0, out].sum(), x)
    touched = torch.nonzero(grad[0].abs().sum(dim=1) > 0).flatten()
    return out, int(touched.min()), int(touched.max())


def test_properties_follow_the_formula():
    net = make(SHAPES[1])
    # R = 1 + 4*1*1 + 2*2*1 + 2*3*2 = 21, S = 2
    assert (net.receptive_field, net.subsampling) == (21, 2)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("frames", [1, 2, 3, 7, 20, 41])
def test_short_and_long_utterances_give_ceil_t_over_s_frames(shape, frames):
    net = make(shape, output_dim=4)
    y = net.encode([torch.randn(frames, 5)])[0]
    assert y.shape[1] == 4 and torch.isfinite(y).all()
    expected = -(-frames // net.subsampling)  # ceil
    assert abs(y.shape[0] - expected) <= 1 and y.shape[0] >= 1
    assert y.shape[0] == int(net.output_lengths(torch.tensor([frames]))[0])


def test_output_of_an_utterance_does_not_depend_on_its_batch():
    net = make(SHAPES[1], output_dim=6)
    utts = [torch.randn(n, 5) for n in (4, 30, 17, 1)]
    together = net.encode(utts)
    for utt, y in zip(utts, together, strict=True):
        alone = net.encode([utt])[0]
        torch.testing.assert_close(y, alone, rtol=1e-5, atol=1e-5)


def test_padding_repeats_edge_frames():
    """A constant utterance stays constant through the net (edges are repeated, not zeros)."""
    net = make(SHAPES[1], output_dim=3, norm="none")
    frame = torch.randn(1, 5)
    y = net.encode([frame.repeat(9, 1)])[0]
    torch.testing.assert_close(y, y[:1].expand_as(y))


def test_dropout_only_in_training_and_output_norms():
    net = make(SHAPES[1], output_dim=4, dropout=0.5)
    x = [torch.randn(25, 5)]
    net.train()
    assert not torch.equal(net.encode(x)[0], net.encode(x)[0])
    net.eval()
    assert torch.equal(net.encode(x)[0], net.encode(x)[0])
    unit = make(SHAPES[1], output_dim=4, output_norm="l2").encode(x)[0]
    torch.testing.assert_close(unit.norm(dim=1), torch.ones(unit.shape[0]))
    layer = make(SHAPES[1], output_dim=4, output_norm="layer").encode(x)[0]
    torch.testing.assert_close(layer.mean(dim=1), torch.zeros(layer.shape[0]), atol=1e-5,
                               rtol=0)


def test_utterance_norm_standardizes_each_channel_over_each_utterance_alone():
    net = make(SHAPES[1], output_dim=4, output_norm="utterance")
    a, b = torch.randn(25, 5), 3 * torch.randn(11, 5) + 2
    ya, yb = net.encode([a, b])
    for y in (ya, yb):
        torch.testing.assert_close(y.mean(dim=0), torch.zeros(4), atol=1e-5, rtol=0)
        torch.testing.assert_close(y.var(dim=0, unbiased=False), torch.ones(4), atol=1e-3,
                                   rtol=0)
    torch.testing.assert_close(net.encode([b])[0], yb)   # the batch and padding do not matter
    one = net.encode([torch.randn(1, 5)])[0]
    assert torch.isfinite(one).all() and one.abs().max() == 0


def test_gradients_reach_every_weight():
    net = make(SHAPES[2], output_dim=4)
    net.train()
    y = net.encode([torch.randn(12, 5), torch.randn(3, 5)])
    sum(t.pow(2).sum() for t in y).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_identity_shape_without_layers_or_projection():
    net = TDNN(5)
    assert (net.receptive_field, net.subsampling, net.output_dim) == (1, 1, 5)
    x = torch.randn(6, 5)
    torch.testing.assert_close(net.encode([x])[0], x)


@pytest.mark.parametrize("kwargs", [
    {"dims": [4], "contexts": [3, 3], "dilations": [1], "strides": [1]},
    {"dims": [4], "contexts": [0], "dilations": [1], "strides": [1]},
    {"activation": "swish"},
    {"norm": "batch"},
    {"output_norm": "l1"},
])
def test_bad_shapes_are_rejected(kwargs):
    with pytest.raises(ValueError):
        TDNN(5, **kwargs)


def test_bad_input_is_rejected():
    net = make(SHAPES[0])
    with pytest.raises(ValueError, match="expected input"):
        net(torch.randn(2, 10, 6), torch.tensor([10, 10]))
    with pytest.raises(ValueError, match="at least one frame"):
        net(torch.randn(2, 10, 5), torch.tensor([10, 0]))


def test_input_skip_appends_the_pooled_input_frames():
    net = make(SHAPES[1], output_dim=4, input_skip=True)
    assert net.output_dim == 4 + 5
    x = torch.randn(9, 5)
    y = net.encode([x])[0]
    s = net.subsampling
    for j in range(y.shape[0]):
        frames = [min(j * s + k, 8) for k in range(s)]
        torch.testing.assert_close(y[j, 4:], x[frames].mean(dim=0))
    with torch.no_grad():
        net.skip_log_scale.fill_(torch.log(torch.tensor(3.0)))
    torch.testing.assert_close(net.encode([x])[0][:, 4:], 3 * y[:, 4:])


@pytest.mark.parametrize("context,dilation,stride", [(1, 1, 1), (1, 1, 2), (3, 1, 1), (5, 1, 1),
                                                     (3, 2, 2), (3, 3, 1), (2, 4, 3)])
def test_spliced_affine_is_the_convolution(context, dilation, stride):
    torch.manual_seed(context * 100 + dilation * 10 + stride)
    layer = TDNNLayer(6, 7, context, dilation, stride).double()
    x = torch.randn(3, 23, 6, dtype=torch.float64, requires_grad=True)  # [B, T, C]
    torch.testing.assert_close(layer.affine(x), layer.conv(x.transpose(1, 2)).transpose(1, 2))
    assert layer.affine(x).shape[1] == int(layer.output_lengths(torch.tensor(23)))
    torch.autograd.gradcheck(layer.affine, (x,))


def test_dropout_keeps_the_expectation_and_is_fixed_by_torch_seed():
    drop = Dropout(0.1).train()
    x = torch.ones(400, 500, requires_grad=True)
    torch.manual_seed(3)
    y = drop(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - 26 / 256) < 0.003                 # p rounded to a multiple of 1/256
    assert abs(y.mean().item() - 1.0) < 0.01               # inverted dropout: E[y] = x
    y.sum().backward()
    torch.testing.assert_close(x.grad, y.detach())         # d y / d x = mask / q
    torch.manual_seed(3)
    assert torch.equal(drop(x), y)                         # torch's seed fixes the mask
    assert not torch.equal(drop(x), y)                     # and the next call draws a new one
    assert drop.eval()(x) is x
    with pytest.raises(ValueError):
        Dropout(1.0)
