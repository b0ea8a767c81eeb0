"""Product of experts: per-utterance standardization of energies, and their sum."""

import pytest
import torch

from asr.recognition.ensemble import combine_energies, standardize_energies


def test_standardized_rows_have_zero_mean_unit_variance():
    energies = torch.randn(6, 5, dtype=torch.float64) * 7 + 3
    z = standardize_energies(energies)
    assert torch.allclose(z.mean(dim=1), torch.zeros(6, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(z.std(dim=1, unbiased=False), torch.ones(6, dtype=torch.float64))
    assert torch.equal(z.argmin(dim=1), energies.argmin(dim=1))   # decisions do not change


def test_standardization_ignores_scale_and_offset_of_an_expert():
    a = torch.randn(4, 3, dtype=torch.float64)
    b = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(combine_energies([a, b]), combine_energies([100 * a - 5, 0.1 * b + 2]))


def test_the_sum_is_the_product_of_the_experts_gibbs_distributions():
    a, b = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    za, zb = standardize_energies(a), standardize_energies(b)
    product = torch.softmax(-za, dim=1) * torch.softmax(-zb, dim=1)
    assert torch.allclose(product / product.sum(dim=1, keepdim=True),
                          torch.softmax(-combine_energies([a, b]), dim=1))


def test_experts_that_agree_keep_their_answer_and_a_split_goes_to_the_runner_up_they_share():
    a = torch.tensor([[0.0, 1.0, 5.0], [0.0, 5.0, 1.0]])
    assert combine_energies([a, 3 * a]).argmin(dim=1).tolist() == [0, 0]
    first = torch.tensor([[0.0, 3.0, 1.0]])      # word 0, then word 2
    second = torch.tensor([[3.0, 0.0, 1.0]])     # word 1, then word 2
    assert combine_energies([first, second]).argmin().item() == 2


def test_flat_rows_and_unreachable_words():
    z = standardize_energies(torch.tensor([[2.0, 2.0, 2.0], [1.0, float("inf"), 3.0]]))
    assert z[0].tolist() == [0.0, 0.0, 0.0]
    assert z[1].tolist() == [-1.0, float("inf"), 1.0]


def test_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        combine_energies([])
    with pytest.raises(ValueError, match="differ in shape"):
        combine_energies([torch.zeros(2, 3), torch.zeros(2, 4)])
    with pytest.raises(ValueError, match="words>=2"):
        standardize_energies(torch.zeros(3, 1))


def test_weights_scale_each_standardized_expert_and_zero_leaves_it_out():
    from asr.recognition.ensemble import combine_energies, standardize_energies

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    torch.testing.assert_close(combine_energies([a, b], [0.5, 2.0]),
                               0.5 * standardize_energies(a) + 2 * standardize_energies(b))
    b[0, 1] = float("inf")                                   # no path in the left-out expert
    torch.testing.assert_close(combine_energies([a, b], [1.0, 0.0]), standardize_energies(a))
    with pytest.raises(ValueError, match="weights"):
        combine_energies([a, b], [0.0, 0.0])


def test_pick_weights_finds_the_informative_expert_on_held_out_labels():
    from asr.recognition.ensemble import combine_energies, pick_weights

    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 5, (200,), generator=g)
    good = torch.randn(200, 5, generator=g)
    good[torch.arange(200), labels] -= 2.0                  # an expert that knows the answers
    noise = torch.randn(200, 5, generator=g) * 3             # and one that does not
    weights, accuracy = pick_weights([good, noise], labels)
    assert weights[0] == 1.0 and weights[1] < 1.0
    assert accuracy == float((combine_energies([good, noise], weights).argmin(1) == labels)
                             .float().mean())
    assert accuracy >= float((combine_energies([good, noise]).argmin(1) == labels).float().mean())
