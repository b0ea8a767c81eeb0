"""The spotter's second pass (asr.spotting.verify): a candidate becomes the stretch of speech
around it, answered by the recognizer's closed-set energies of that stretch normalized as a
clip; one answer per word; noise is not a keyword."""

import numpy as np
import pytest
import soundfile
import torch

from asr.checkpoint import load_recognizer
from asr.spotting.frontend import StreamFeatures
from asr.spotting.verify import Verifier


@pytest.fixture(scope="module")
def two_words(fsdd_dir, tiny_spotter):
    """A stream: pause, "0" of nicolas (held out of the tiny model), pause, "7" of nicolas,
    pause (low noise); its raw frames, speech flags, speaker means and the clips' frames."""
    rec, config = load_recognizer(tiny_spotter)
    rng = np.random.default_rng(0)
    pause = lambda: (0.001 * rng.normal(size=4000)).astype(np.float32)  # noqa: E731
    clips = [soundfile.read(fsdd_dir / "recordings" / f"{w}_nicolas_3.wav",
                            dtype="float32")[0] for w in ("0", "7")]
    wave = np.concatenate([pause(), clips[0], pause(), clips[1], pause()])
    hop = config.frontend.hop_length
    bounds, at = [], 4000
    for clip in clips:
        bounds.append((at // hop, (at + len(clip)) // hop))
        at += len(clip) + 4000
    features = StreamFeatures(config.frontend, prior=None)
    features.push(wave, final=True)
    return rec, config, features, bounds


def _verifier(rec, config, thresholds=np.inf):
    words = [w for w in rec.words if not w.startswith("<")]
    return Verifier(rec, words, np.full(len(words), thresholds), config.frontend)


def test_each_word_is_answered_once_by_the_closed_set_energies_of_its_region(two_words):
    rec, config, f, bounds = two_words
    v = _verifier(rec, config)
    # three candidates inside each word (parts of it, as short templates would match)
    candidates = []
    for a, b in bounds:
        third = (b - a) // 3
        candidates += [(a, a + third, "first"), (a + third, b - third, "middle"),
                       (b - third, b, "last")]
    out = v.push(f.raw_out, f.speech, f.means, candidates, final=True)
    assert len(out) == 2
    for (hit, word, score, margin, first, end, seen), (a, b) in zip(out, bounds, strict=True):
        assert hit == "first"
        # the region is the word's speech, give or take the gate's view of its edges
        assert abs(first - a) <= 15 and abs(end - b) <= 15 and seen >= end
        # the answer and its margin are those of the region normalized as a clip
        x = torch.from_numpy(f.raw_out[first:end])
        if config.frontend.cmvn == "speaker":
            x = (x - torch.from_numpy(f.means[end - 1])) / x.std(0, correction=0).clamp_min(1e-5)
        energies = rec.energies([x])[0].double().numpy()
        best = int(np.argmin(energies))
        assert word == rec.words[best]
        assert score == pytest.approx(energies[best] - np.delete(energies, best).min(), abs=1e-4)
        assert margin == -score and score <= 0


def test_noise_is_not_a_keyword_and_thresholds_do_not_change_what_is_answered(two_words):
    rec, config, f, bounds = two_words
    quiet = [(5, 30, "noise")]                     # in the first pause: no speech
    out = _verifier(rec, config).push(f.raw_out, f.speech, f.means, quiet, final=True)
    assert out == []
    # with a threshold no region passes, later candidates in the same words are still not
    # answered again (the same regions are answered as with no threshold)
    a, b = bounds[0]
    strict = _verifier(rec, config, thresholds=-1e9)
    assert strict.push(f.raw_out, f.speech, f.means, [(a, b, "x"), (a + 5, b - 5, "y")],
                       final=True) == []
    assert len(strict.reported) == 1


def test_a_candidate_waits_for_the_end_of_its_speech(two_words):
    """Frames arriving one block at a time: the first word is decided only once a pause of
    ``gap`` frames follows it (or the reach is passed), never before its speech ends."""
    rec, config, f, bounds = two_words
    v = _verifier(rec, config)
    a, b = bounds[0]
    decided_at = None
    for i in range(0, len(f.raw_out), 4):
        cands = [(a + 5, a + 25, "c")] if i == 0 else []
        means = None if f.means is None else f.means[i:i + 4]
        if v.push(f.raw_out[i:i + 4], f.speech[i:i + 4], means, cands) and decided_at is None:
            decided_at = i + 4
    assert decided_at is not None and decided_at >= min(b, a + 25 + v.reach)
