"""The loss family: values on hand-made energies, and which way each loss pushes the energies."""

import math

import pytest
import torch

from asr.losses import LOSSES, correct_and_offending

# row 0 is recognized (E_C=1 < E_I=2), row 1 is not (E_C=4 > E_I=1)
ENERGIES = torch.tensor([[1.0, 3.0, 2.0], [4.0, 1.0, 2.5]])
LABELS = torch.tensor([0, 0])


def mce_row(e, c, alpha=1.0, theta=0.0, eta=1.0):
    others = [x for i, x in enumerate(e) if i != c]
    soft_min = -math.log(sum(math.exp(-eta * x) for x in others) / len(others)) / eta
    d = e[c] - soft_min
    return 1 / (1 + math.exp(-(alpha * d + theta)))


EXPECTED = {
    ("energy", ()): (1 + 4) / 2,
    ("perceptron", ()): (0 + 3) / 2,
    ("hinge", (("margin", 1.0),)): (0 + 4) / 2,
    ("hinge", (("margin", 2.0),)): (1 + 5) / 2,
    ("log", ()): (math.log1p(math.exp(-1)) + math.log1p(math.exp(3))) / 2,
    ("lvq2", (("delta", 0.5),)): (0 + 1) / 2,  # row 1 saturates: 3 / (0.5 * 1) > 1
    ("lvq2", (("delta", 10.0),)): (0 + 0.3) / 2,  # row 1 inside the window: 3 / (10 * 1)
    ("mce", ()): (mce_row([1, 3, 2], 0) + mce_row([4, 1, 2.5], 0)) / 2,
    ("mce", (("alpha", 2.0), ("theta", 0.5), ("eta", 3.0))): (
        mce_row([1, 3, 2], 0, 2.0, 0.5, 3.0) + mce_row([4, 1, 2.5], 0, 2.0, 0.5, 3.0)
    )
    / 2,
    ("mmi", ()): (
        1 + math.log(math.exp(-1) + math.exp(-3) + math.exp(-2))
        + 4 + math.log(math.exp(-4) + math.exp(-1) + math.exp(-2.5))
    )
    / 2,
    ("mmi", (("beta", 2.0),)): (
        1 + math.log(math.exp(-2) + math.exp(-6) + math.exp(-4)) / 2
        + 4 + math.log(math.exp(-8) + math.exp(-2) + math.exp(-5)) / 2
    )
    / 2,
    ("square-square", (("margin", 3.0),)): ((1 + 1) + (16 + 4)) / 2,
    ("square-exp", ()): ((1 + math.exp(-2)) + (16 + math.exp(-1))) / 2,
    ("square-exp", (("gamma", 4.0),)): ((1 + 4 * math.exp(-2)) + (16 + 4 * math.exp(-1))) / 2,
}


@pytest.mark.parametrize("name,params", list(EXPECTED), ids=lambda x: str(x))
def test_loss_values_on_hand_made_energies(name, params):
    value = LOSSES[name](ENERGIES, LABELS, **dict(params))
    assert value.item() == pytest.approx(EXPECTED[name, params], rel=1e-6)


def test_correct_and_offending():
    e_c, e_i = correct_and_offending(ENERGIES, LABELS)
    assert e_c.tolist() == [1.0, 4.0]
    assert e_i.tolist() == [2.0, 1.0]


def grads(name, energies, labels, **params):
    energies = energies.clone().requires_grad_(True)
    LOSSES[name](energies, labels, **params).backward()
    return energies.grad


# the misrecognized row (E_C=4, E_I=1 at column 1), a setting where each loss is active
ACTIVE = {
    "energy": {},
    "perceptron": {},
    "hinge": {"margin": 1.0},
    "log": {},
    "lvq2": {"delta": 10.0},
    "mce": {},
    "mmi": {},
    "square-square": {"margin": 3.0},
    "square-exp": {},
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_pushes_correct_down_and_offending_up(name):
    g = grads(name, ENERGIES[1:], LABELS[1:], **ACTIVE[name])[0]
    assert g[0] > 0  # gradient descent lowers E_C
    if name == "energy":
        assert g[1] == 0 and g[2] == 0  # nothing pulls the others up: the loss collapses
    else:
        assert g[1] < 0  # ... and raises the most offending answer E_I
    assert torch.isfinite(g).all()


@pytest.mark.parametrize(
    "name,params",
    [
        ("perceptron", {}),
        ("hinge", {"margin": 0.5}),  # E_I - E_C = 1 > margin
        ("lvq2", {"delta": 0.1}),
    ],
)
def test_no_gradient_where_the_loss_is_satisfied(name, params):
    g = grads(name, ENERGIES[:1], LABELS[:1], **params)
    assert torch.count_nonzero(g) == 0


def test_lvq2_saturates_on_gross_errors():
    g = grads("lvq2", ENERGIES[1:], LABELS[1:], delta=0.5)
    assert torch.count_nonzero(g) == 0


def test_mmi_gradient_is_posterior():
    g = grads("mmi", ENERGIES[:1], LABELS[:1])[0]
    posterior = torch.softmax(-ENERGIES[0], dim=0)
    expected = -posterior
    expected[0] += 1
    assert torch.allclose(g, expected, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_accept_batches_and_float64(name):
    e = torch.rand(8, 10, dtype=torch.float64) + 0.1
    y = torch.randint(0, 10, (8,))
    value = LOSSES[name](e, y)
    assert value.dtype == torch.float64 and value.ndim == 0 and torch.isfinite(value)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="words>=2"):
        LOSSES["hinge"](torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be"):
        LOSSES["hinge"](torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must lie"):
        LOSSES["hinge"](torch.zeros(2, 4), torch.tensor([0, 4]))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_no_loss_pushes_a_negative_correct_energy_up(name):
    """Soft-min energies (gamma > 0) can be negative: every loss must still lower E_C (or
    leave it) and raise E_I on a misrecognized utterance with all energies below zero."""
    energies = ENERGIES[1:] - 10.0          # E_C = -6 > E_I = -9: misrecognized
    params = {**ACTIVE[name], **({"margin": 3.0} if name == "square-square" else {})}
    if name == "lvq2":
        params = {"delta": 1.0}             # window 1 * |E_I| = 9 > E_C - E_I = 3
    g = grads(name, energies, LABELS[1:], **params)[0]
    assert g[0] >= 0, g
    if name != "energy":
        assert g[1] < 0, g


@pytest.mark.parametrize("name", ["square-square", "square-exp"])
def test_distance_losses_take_zero_as_the_lowest_energy_worth_reaching(name):
    energies = torch.tensor([[-2.0, 5.0, 6.0]])
    g = grads(name, energies, torch.tensor([0]))[0]
    assert g[0] == 0                         # E_C^2 would push -2 back up to 0


def test_soft_min_energies_do_go_negative():
    """Why the losses above must cope: a normalized soft-DTW energy below zero."""
    from asr.dtw import pairwise_dtw

    x = [torch.zeros(30, 2)]
    e = pairwise_dtw(x, [torch.full((30, 2), 0.1)], step="symmetric2", gamma=5.0,
                     normalize=True)
    assert float(e) < 0
