"""asr enroll / asr forget on a small real experiment: round trip, backups, bad input."""

import shutil

import pytest
import torch
from _support import assert_one_line_error
from click.testing import CliRunner

from asr.checkpoint import load_recognizer
from asr.cli import main
from asr.enrollment import add_word, remove_word


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def exp(tiny_spotter, tmp_path):
    target = tmp_path / "exp"
    shutil.copytree(tiny_spotter, target)
    return target


def _examples(fsdd_dir, word, speaker="nicolas", takes=(10, 11, 12)):
    return [fsdd_dir / "recordings" / f"{word}_{speaker}_{t}.wav" for t in takes]


def test_enroll_forget_round_trip(exp, fsdd_dir):
    before, _ = load_recognizer(exp)
    old_state = {k: v.clone() for k, v in before.state_dict().items()}
    examples = _examples(fsdd_dir, "4")
    result = invoke("enroll", "--exp", exp, "--word", "4", *examples)
    assert result.exit_code == 0, result.output
    assert "vocabulary (4): 0 1 7 4" in result.output
    for which in ("best", "last"):
        rec, _ = load_recognizer(exp, which)
        assert rec.words == ["0", "1", "7", "4"]
        assert len(rec.templates_of("4")) == 3
        assert (exp / f"{which}.pt.bak").is_file()
    rec, _ = load_recognizer(exp)
    # the old words and front end are untouched; the new templates are the examples through G_W
    for word in ("0", "1", "7"):
        for a, b in zip(rec.templates_of(word), before.templates_of(word), strict=True):
            assert torch.equal(a, b)
    for key in ("input_mean", "input_std"):
        assert torch.equal(rec.state_dict()[key], old_state[key])
    # the new word is recognized on other recordings of the enrolling speaker
    result = invoke("recognize", "--exp", exp, *_examples(fsdd_dir, "4", takes=(20, 21, 22)))
    assert result.exit_code == 0, result.output
    answers = [line.split("\t")[1].split()[0] for line in result.output.splitlines()]
    assert answers.count("4") >= 2, result.output
    # forget restores the original vocabulary and templates exactly
    result = invoke("forget", "--exp", exp, "--word", "4")
    assert result.exit_code == 0, result.output
    after, _ = load_recognizer(exp)
    assert after.words == before.words
    for key, value in after.state_dict().items():
        assert torch.equal(value, old_state[key]), key


def test_add_and_remove_in_memory_keep_other_energies(tiny_spotter, fsdd_dir):
    rec, config = load_recognizer(tiny_spotter)
    from asr.enrollment import example_encodings
    from asr.features import extract_features

    encodings = example_encodings(rec, config, _examples(fsdd_dir, "5"))
    grown = add_word(rec, "5", encodings, templates=1, init="dba")
    feats = [extract_features(p, config.frontend) for p in _examples(fsdd_dir, "0", "george")]
    e_old, e_new = rec.energies(feats), grown.energies(feats)
    torch.testing.assert_close(e_new[:, :3], e_old)
    assert len(grown.templates_of("5")) == 1
    assert remove_word(grown, "0").words == ["1", "7", "5"]


def test_enroll_bad_input(exp, fsdd_dir, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    good = _examples(fsdd_dir, "4")[0]
    assert_one_line_error(invoke("enroll", "--exp", exp, "--word", "0", good), "'0'",
                          "already in the vocabulary")
    assert_one_line_error(invoke("enroll", "--exp", exp, "--word", "4", empty), "empty")
    assert_one_line_error(invoke("enroll", "--exp", exp, "--word", "4", text), "notes.wav")
    assert_one_line_error(invoke("enroll", "--exp", exp, "--word", "4", *[good] * 6),
                          "1 to 5")
    assert_one_line_error(invoke("forget", "--exp", exp, "--word", "9"), "'9'",
                          "not in the vocabulary")
    # nothing was changed by the failed calls
    assert not (exp / "best.pt.bak").exists()
    (exp / "best.pt").write_bytes(b"garbage")
    assert_one_line_error(invoke("forget", "--exp", exp, "--word", "0"), "best.pt")


def test_speed_perturbed_candidates(tiny_spotter, fsdd_dir):
    from asr.enrollment import example_encodings
    from asr.errors import AsrError

    rec, config = load_recognizer(tiny_spotter)
    encodings = example_encodings(rec, config, _examples(fsdd_dir, "5"), speeds=(0.9, 1.0, 1.1))
    assert len(encodings) == 9  # example-major: each example at 0.9, 1, 1.1
    assert encodings[0].shape[0] > encodings[2].shape[0]  # the slower copy is the longer
    grown = add_word(rec, "5", encodings, templates=4)
    assert len(grown.templates_of("5")) == 4
    with pytest.raises(AsrError, match="candidate templates"):
        add_word(rec, "5", encodings, templates=10)
    with pytest.raises(AsrError, match="normalize"):
        example_encodings(rec, config, _examples(fsdd_dir, "5"), normalize="mean")
