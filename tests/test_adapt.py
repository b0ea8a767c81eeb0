"""Adaptation to the test speaker with his own confident answers (asr.recognition.adapt)."""

import math

import pytest
import torch

from asr.dtw import pairwise_dtw
from asr.recognition.adapt import confident_answers, self_exemplar_energies
from asr.recognition.ensemble import combine_energies


def word_sequences(seed=0):
    """Two 'speakers', three utterances of each of three 'words' each: a rising ramp, a falling
    one and a flat line, with a speaker offset and noise."""
    g = torch.Generator().manual_seed(seed)
    feats, words, speakers = [], [], []
    for speaker, offset in (("a", 0.0), ("b", 5.0)):
        for word in (0, 1, 2):
            for _ in range(3):
                t = torch.linspace(0, 1, 12 + int(torch.randint(0, 5, (1,), generator=g)))
                ramp = (t, 1 - t, 0.5 + 0 * t)[word]
                feats.append(torch.stack([ramp, ramp ** 2], 1) * 4 + offset
                             + 0.05 * torch.randn(len(t), 2, generator=g))
                words.append(word)
                speakers.append(speaker)
    return feats, torch.tensor(words), speakers


def test_confident_answers_are_the_largest_margins_of_each_speaker():
    energies = torch.tensor([[0.0, 1.0], [0.0, 3.0], [0.0, 2.0], [5.0, 0.0], [0.0, 0.5]])
    speakers = ["a", "a", "a", "b", "b"]
    assert confident_answers(energies, speakers, 0.5).tolist() == [False, True, True, True, False]
    assert confident_answers(energies, speakers, 1.0).all()
    with pytest.raises(ValueError):
        confident_answers(energies, speakers, 0.0)


def test_self_exemplars_fix_an_answer_from_the_speakers_confident_ones():
    feats, words, speakers = word_sequences()
    # a recognizer that is right with large margins except on utterance 0 (word 0 answered 1,
    # with a small margin)
    energies = torch.where(torch.nn.functional.one_hot(words, 3).bool(), 0.0, 3.0)
    energies[0] = torch.tensor([1.0, 0.8, 3.0])
    assert energies.argmin(1)[0] == 1
    own = self_exemplar_energies(feats, speakers, energies, fraction=0.8)
    # the exact definition: nearest confident exemplar of the same speaker, never itself
    conf = confident_answers(energies, speakers, 0.8)
    assert not conf[0]
    d = pairwise_dtw(feats, feats, step="symmetric2", normalize=True)
    for u in range(len(feats)):
        for w in (0, 1, 2):
            cand = [v for v in range(len(feats)) if conf[v] and v != u
                    and speakers[v] == speakers[u] and int(energies[v].argmin()) == w]
            assert own[u, w] == pytest.approx(float(min(d[u, v] for v in cand)), rel=1e-5)
    combined = combine_energies([energies, own])
    assert combined.argmin(1).tolist() == words.tolist()


def test_a_word_without_confident_exemplars_is_neutral():
    feats, words, speakers = word_sequences(1)
    energies = torch.zeros(len(feats), 4)
    energies[torch.arange(len(feats)), words] = -1.0  # word 3 is never answered
    own = self_exemplar_energies(feats, speakers, energies, fraction=1.0)
    assert torch.isfinite(own).all()
    torch.testing.assert_close(own[:, 3], own[:, :3].mean(1))
    assert math.isfinite(float(combine_energies([energies, own]).sum()))
    with pytest.raises(ValueError):
        self_exemplar_energies(feats[:-1], speakers, energies, fraction=1.0)


def test_own_exemplars_online_equal_the_sequential_form_and_abstain_until_every_word():
    """own_exemplar_energies (one DTW matrix per speaker) = OwnExemplars fed one utterance at a
    time in the given order; zeros until the speaker has said every word; each word's energy is
    the nearest of its K exemplars of largest margin among his *earlier* utterances."""
    from asr.evaluate import decide
    from asr.recognition.adapt import OwnExemplars, own_exemplar_energies

    feats, words, speakers = word_sequences(seed=3)
    g = torch.Generator().manual_seed(1)
    energies = torch.rand(len(feats), 3, generator=g)
    energies[torch.arange(len(feats)), words] -= 0.6  # mostly right, margins vary
    order = torch.randperm(len(feats), generator=g).tolist()
    out = own_exemplar_energies(feats, speakers, energies, order, per_word=2)
    answers, margins = decide(energies)
    own = {s: OwnExemplars(3, per_word=2) for s in set(speakers)}
    seen = {s: [] for s in set(speakers)}
    for i in order:
        s = speakers[i]
        row = own[s].energies(feats[i])
        assert torch.allclose(out[i], row, atol=1e-5)
        said = {int(answers[j]) for j in seen[s]}
        assert (row != 0).any() == (said == {0, 1, 2})
        if said == {0, 1, 2}:
            for word in range(3):
                pool = sorted((j for j in seen[s] if answers[j] == word),
                              key=lambda j: -float(margins[j]))[:2]
                d = pairwise_dtw([feats[i]], [feats[j] for j in pool], step="symmetric2",
                                 normalize=True)[0]
                assert float(row[word]) == pytest.approx(float(d.min()), abs=1e-5)
        own[s].add(feats[i], int(answers[i]), float(margins[i]))
        seen[s].append(i)
    back = OwnExemplars.from_dict(own["a"].to_dict())
    assert [[m for m, _ in p] for p in back.pools] == [[m for m, _ in p] for p in own["a"].pools]
    assert all(len(p) <= 2 for p in back.pools)
    assert torch.allclose(back.energies(feats[0]), own["a"].energies(feats[0]))


def test_own_exemplars_refuse_damaged_state():
    from asr.errors import AsrError
    from asr.recognition.adapt import OwnExemplars

    data = OwnExemplars(3, 2).to_dict()
    data["margins"] = data["margins"][:2]
    with pytest.raises(AsrError, match="not a set of own exemplars"):
        OwnExemplars.from_dict(data)
    with pytest.raises(AsrError):
        OwnExemplars.from_dict({"num_words": 3})
