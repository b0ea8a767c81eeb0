"""Manifests and the three corpus layouts (FSDD, Speech Commands, <word>/<file> folders)."""

import json
import re

import pytest

from asr.corpora import Utterance, fsdd, read_manifest, speech_commands, write_manifest
from asr.corpora import folder as folder_corpus
from asr.errors import AudioError, ConfigError, DataError


def take_of(u):
    return int(u.id.rsplit("_", 1)[1])


# ---------------------------------------------------------------- manifests
def test_manifest_round_trip_relative_and_absolute_paths(tmp_path, fsdd_dir, monkeypatch):
    inside = tmp_path / "audio" / "a.wav"
    inside.parent.mkdir()
    inside.write_bytes(b"")
    outside = fsdd_dir / "recordings" / "0_george_0.wav"
    utts = [Utterance("a", inside, "yes", "s1", 0.5), Utterance("b", outside, "0", "george", 0.4)]
    path = tmp_path / "m.jsonl"
    write_manifest(path, utts)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0]["path"] == "audio/a.wav" and rows[1]["path"] == str(outside)
    assert set(rows[0]) == {"id", "path", "word", "speaker", "duration"}
    monkeypatch.chdir(fsdd_dir)  # relative paths resolve against the manifest, not the cwd
    assert read_manifest(path) == utts
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("content, rule", [
    ('{"id": "a", "path": "a.wav", "word": "x", "speaker": "s", "duration": 1}\nnot json\n',
     r"m\.jsonl:2: not valid JSON"),
    ('{"id": "a", "path": "a.wav", "speaker": "s", "duration": 1}\n', r"m\.jsonl:1: missing key"),
    ('[1, 2]\n', r"m\.jsonl:1: not a JSON object"),
    ('{"id": "a", "path": "a.wav", "word": "x", "speaker": "s", "duration": "long"}\n',
     "not a number"),
    ('{"id": "a", "path": "a", "word": "x", "speaker": "s", "duration": 1}\n' * 2, "duplicate"),
    ("\n", "empty manifest"),
])
def test_bad_manifests_raise_data_errors_with_file_and_line(tmp_path, content, rule):
    path = tmp_path / "m.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=rule):
        read_manifest(path)


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="no such manifest"):
        read_manifest(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    assert read_manifest(tmp_path / "empty.jsonl", allow_empty=True) == []


# ---------------------------------------------------------------- FSDD
@pytest.fixture(scope="module")
def fsdd_found(fsdd_dir):
    return fsdd.scan(fsdd_dir)


def test_fsdd_standard_split(fsdd_found):
    splits = fsdd.split(fsdd_found)
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    assert (len(train), len(valid), len(test)) == (2000, 250, 250)
    assert {take_of(u) for u in test} == set(range(5))
    train_takes, valid_takes = {take_of(u) for u in train}, {take_of(u) for u in valid}
    assert valid_takes == set(range(45, 50)) and train_takes == set(range(5, 45))
    for part in splits.values():
        assert {u.speaker for u in part} == {"george", "jackson", "lucas", "nicolas", "yweweler"}
        assert {u.word for u in part} == {str(d) for d in range(10)}
    ids = [u.id for part in splits.values() for u in part]
    assert len(set(ids)) == 2500
    u = next(u for u in test if u.id == "3_jackson_2")
    assert (u.word, u.speaker, u.path.name) == ("3", "jackson", "3_jackson_2.wav")
    assert 0.1 < u.duration < 1.5


def test_fsdd_valid_fraction(fsdd_found):
    assert len(fsdd.split(fsdd_found, valid_fraction=0.0)["valid"]) == 0
    assert len(fsdd.split(fsdd_found, valid_fraction=0.2)["valid"]) == 9 * 50
    with pytest.raises(ConfigError, match="valid-fraction"):
        fsdd.split(fsdd_found, valid_fraction=1.0)


def test_fsdd_speaker_independent_split(fsdd_found):
    splits = fsdd.split(fsdd_found, test_speakers="jackson")
    assert len(splits["test"]) == 500 and {u.speaker for u in splits["test"]} == {"jackson"}
    rest = splits["train"] + splits["valid"]
    assert len(rest) == 2000 and "jackson" not in {u.speaker for u in rest}
    assert not {take_of(u) for u in splits["train"]} & {take_of(u) for u in splits["valid"]}
    two = fsdd.split(fsdd_found, test_speakers="jackson, lucas")
    assert {u.speaker for u in two["test"]} == {"jackson", "lucas"}


def test_fsdd_accepts_the_recordings_folder_itself(fsdd_dir, fsdd_found):
    assert [u for u, _ in fsdd.scan(fsdd_dir / "recordings")] == [u for u, _ in fsdd_found]


def test_fsdd_layout_and_speaker_errors(tmp_path, fsdd_found):
    with pytest.raises(DataError, match="not an FSDD layout"):
        fsdd.scan(tmp_path)
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "hello.wav").write_bytes(b"x")
    with pytest.raises(DataError, match=re.escape(f"{tmp_path}: not an FSDD layout")):
        fsdd.scan(tmp_path)
    with pytest.raises(DataError, match="unknown FSDD speaker.*bob.*george"):
        fsdd.split(fsdd_found, test_speakers="bob")
    with pytest.raises(DataError, match="at least one must be left"):
        fsdd.split(fsdd_found, test_speakers="george,jackson,lucas,nicolas,yweweler")


def test_fsdd_corrupt_recording_is_named(tmp_path):
    (tmp_path / "0_bob_0.wav").write_text("not audio")
    with pytest.raises(AudioError, match="0_bob_0.wav: not a readable audio file"):
        fsdd.scan(tmp_path)


# ---------------------------------------------------------------- Speech Commands
def test_speech_commands_sample_split(speech_commands_dir):
    splits = speech_commands.prepare(speech_commands_dir)
    assert {k: len(v) for k, v in splits.items()} == {"train": 205, "valid": 44, "test": 51}
    listed = (speech_commands_dir / "testing_list.txt").read_text().split()
    assert all(f"{u.id}.wav" in listed for u in splits["test"])
    assert len({u.word for part in splits.values() for u in part}) == 30
    speakers = [{u.speaker for u in part} for part in splits.values()]
    assert not (speakers[0] & speakers[1]) and not (speakers[0] & speakers[2])


def _mini_speech_commands(src, dst, words=("yes", "no")):
    for word in words:
        (dst / word).mkdir(parents=True)
        for f in sorted((src / word).glob("*.wav")):
            (dst / word / f.name).symlink_to(f)
    noise = dst / "_background_noise_"
    noise.mkdir()
    (noise / "white_noise.wav").symlink_to(sorted((src / "yes").glob("*.wav"))[0])
    for name in ("testing_list.txt", "validation_list.txt"):
        (dst / name).symlink_to(src / name)


def test_speech_commands_words_and_background_noise(speech_commands_dir, tmp_path):
    _mini_speech_commands(speech_commands_dir, tmp_path)
    splits = speech_commands.prepare(tmp_path)
    words = {u.word for part in splits.values() for u in part}
    assert words == {"yes", "no"} and sum(map(len, splits.values())) == 20
    only_yes = speech_commands.prepare(tmp_path, words="yes")
    assert {u.word for part in only_yes.values() for u in part} == {"yes"}
    with pytest.raises(DataError, match="unknown word.*maybe"):
        speech_commands.prepare(tmp_path, words="yes,maybe")
    with pytest.raises(DataError, match="_background_noise_|unknown word"):
        speech_commands.prepare(tmp_path, words="_background_noise_")


def test_speech_commands_layout_errors(speech_commands_dir, tmp_path):
    with pytest.raises(DataError, match="not a Speech Commands layout"):
        speech_commands.prepare(tmp_path)
    _mini_speech_commands(speech_commands_dir, tmp_path)
    (tmp_path / "testing_list.txt").unlink()
    with pytest.raises(DataError, match="testing_list.txt: missing"):
        speech_commands.prepare(tmp_path)
    (tmp_path / "testing_list.txt").write_text("")
    (tmp_path / "yes" / "oops.wav").symlink_to(next((tmp_path / "no").glob("*.wav")).resolve())
    with pytest.raises(DataError, match=r"oops\.wav: file name is not"):
        speech_commands.prepare(tmp_path)


# ---------------------------------------------------------------- <word>/<file> folders
@pytest.fixture()
def word_folder(fsdd_dir, tmp_path):
    """FSDD files laid out as <word>/<speaker>_<take>.wav (3 digits, 5 speakers, 4 takes)."""
    root = tmp_path / "corpus"
    for digit, word in (("1", "one"), ("2", "two"), ("3", "three")):
        (root / word).mkdir(parents=True)
        for f in sorted((fsdd_dir / "recordings").glob(f"{digit}_*_[0-3].wav")):
            _, speaker, take = f.stem.split("_")
            (root / word / f"{speaker}_{take}.wav").symlink_to(f)
    return root


def test_folder_split_is_speaker_disjoint(word_folder):
    splits = folder_corpus.prepare(word_folder, test_fraction=0.2, valid_fraction=0.25)
    parts = [{u.speaker for u in splits[k]} for k in ("train", "valid", "test")]
    assert [len(p) for p in parts] == [3, 1, 1]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert sum(map(len, splits.values())) == 60
    assert {u.word for u in splits["test"]} == {"one", "two", "three"}
    again = folder_corpus.prepare(word_folder, test_fraction=0.2, valid_fraction=0.25)
    assert again == splits  # deterministic
    chosen = folder_corpus.prepare(word_folder, test_speakers="lucas,george")
    assert {u.speaker for u in chosen["test"]} == {"lucas", "george"}
    assert not {"lucas", "george"} & {u.speaker for u in chosen["train"] + chosen["valid"]}


def test_folder_speaker_regex(word_folder):
    by_take = folder_corpus.scan(word_folder, speaker_regex=r"_(\d+)$")
    assert {u.speaker for u in by_take} == {"0", "1", "2", "3"}
    with pytest.raises(DataError, match=r"speaker regex 'x\(\\d\)' does not match"):
        folder_corpus.scan(word_folder, speaker_regex=r"x(\d)")
    with pytest.raises(ConfigError, match="not a regular expression"):
        folder_corpus.scan(word_folder, speaker_regex="(")


def test_folder_layout_errors(word_folder, tmp_path):
    empty = tmp_path / "empty"
    (empty / "word").mkdir(parents=True)
    with pytest.raises(DataError, match="not a <word>/<file>.wav layout"):
        folder_corpus.scan(empty)
    with pytest.raises(DataError, match="only one speaker"):
        folder_corpus.prepare(word_folder, speaker_regex=r"^()")
    with pytest.raises(DataError, match="unknown speaker.*zoe"):
        folder_corpus.prepare(word_folder, test_speakers="zoe")
