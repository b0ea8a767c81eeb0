"""Arabic Speech Commands: both layouts, the official split, FLAC input, the offline download."""

import hashlib
import io

import numpy as np
import pytest
import soundfile as sf
import torch
from _support import assert_one_line_error, tar_gz
from click.testing import CliRunner

from asr.cli import main
from asr.corpora import arabic_speech_commands as asc
from asr.corpora import read_manifest
from asr.errors import DataError
from asr.features.audio import load_audio

WORDS = {"zoom_in": "zoom in", "yes": "yes"}  # shared folder -> original folder name
SPEAKERS = {"00000001": "train", "00000002": "valid", "00000003": "test"}


@pytest.fixture(scope="session")
def asc_dir(shared_data):
    return shared_data / "arabic_speech_commands"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def _wav_bytes(flac):
    data, rate = sf.read(str(flac), dtype="int16")
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def original_members(asc_dir):
    """The original download's layout in miniature: dataset/<word with space>/<spk>_NO_<t>.wav
    (real clips, the shared FLAC decoded to WAV) and train/val/test CSVs at the top. The test
    speaker's clips are borrowed from a train speaker's (the shared copy lacks test speakers)."""
    top = "arabic-speech-commands-dataset-72f3438"
    members = {f"{top}/README.md": b"# ASC\n"}
    rows = {"train": [], "valid": [], "test": []}
    for shared_word, word in WORDS.items():
        for speaker, part in SPEAKERS.items():
            source = "00000001" if part == "test" else speaker
            for take in (1, 2):
                name = f"{speaker}_NO_{take:02d}.wav"
                flac = asc_dir / shared_word / f"{source}_NO_{take:02d}.flac"
                members[f"{top}/dataset/{word}/{name}"] = _wav_bytes(flac)
                rows[part].append(f"dataset/{word}/{name},{word}")
    for part, fname in asc.CSVS.items():
        members[f"{top}/{fname}"] = ("file,class\n" + "\n".join(rows[part]) + "\n").encode()
    return members


def test_official_speaker_lists_are_disjoint_and_sized():
    parts = [set(asc.OFFICIAL_SPEAKERS[k]) for k in ("train", "valid", "test")]
    assert [len(p) for p in parts] == [18, 6, 6]
    assert len(set.union(*parts)) == 30


def test_shared_copy_split_by_official_speakers(asc_dir, tmp_path):
    result = run("prepare", "arabic-speech-commands", asc_dir, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "test.jsonl is empty" in result.output
    splits = {k: read_manifest(tmp_path / f"{k}.jsonl", allow_empty=True)
              for k in ("train", "valid", "test")}
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [7200, 2400, 0]
    speakers = {k: {u.speaker for u in v} for k, v in splits.items()}
    assert speakers["train"] == set(asc.OFFICIAL_SPEAKERS["train"])
    assert speakers["valid"] == set(asc.OFFICIAL_SPEAKERS["valid"])
    assert len({u.word for u in splits["train"]}) == 40
    assert "zoom_in" in {u.word for u in splits["valid"]}
    assert all(u.path.suffix == ".flac" and u.path.is_file() for u in splits["valid"][:5])


def test_flac_reads_as_the_same_samples_as_wav(asc_dir, tmp_path):
    flac = asc_dir / "yes" / "00000001_NO_01.flac"
    wav = tmp_path / "a.wav"
    wav.write_bytes(_wav_bytes(flac))
    a, b = load_audio(flac, 16000), load_audio(wav, 16000)
    assert a.shape == (16000,) and torch.equal(a, b)
    raw, _ = sf.read(str(wav), dtype="float32")
    assert np.array_equal(a.numpy(), raw)


def test_prepare_folder_accepts_flac(asc_dir, tmp_path):
    root = tmp_path / "corpus"
    for word in ("yes", "no"):
        (root / word).mkdir(parents=True)
        for speaker in ("00000001", "00000002", "00000005"):
            src = asc_dir / word / f"{speaker}_NO_01.flac"
            (root / word / src.name).symlink_to(src)
    result = run("prepare", "folder", root, "--out", tmp_path / "m",
                 "--test-speakers", "00000002", "--valid-fraction", "0")
    assert result.exit_code == 0, result.output
    test = read_manifest(tmp_path / "m" / "test.jsonl")
    assert sorted(u.id for u in test) == ["no/00000002_NO_01", "yes/00000002_NO_01"]
    assert test[0].duration == pytest.approx(1.0)


def test_original_layout_uses_the_csvs(original_members, tmp_path):
    top = tmp_path / "orig"
    for name, data in original_members.items():
        path = top / name.split("/", 1)[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    splits = asc.prepare(top)
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [4, 4, 4]
    assert {u.speaker for u in splits["test"]} == {"00000003"}
    assert {u.word for u in splits["train"]} == {"zoom_in", "yes"}
    assert "zoom_in/00000002_NO_01" in {u.id for u in splits["valid"]}
    # the CSVs, not the speaker lists, decide: move a clip to test in the CSVs
    val = (top / "val.csv").read_text().splitlines()
    moved = val.pop(1)
    (top / "val.csv").write_text("\n".join(val) + "\n")
    (top / "test.csv").write_text((top / "test.csv").read_text() + moved + "\n")
    assert len(asc.prepare(top)["test"]) == 5
    (top / "test.csv").write_text("file,class\n")
    with pytest.raises(DataError, match="listed in no official CSV"):
        asc.prepare(top)


def test_layout_errors(tmp_path, asc_dir):
    with pytest.raises(DataError, match="not an Arabic Speech Commands layout"):
        asc.prepare(tmp_path)
    (tmp_path / "yes").mkdir()
    (tmp_path / "yes" / "00000099_NO_01.flac").symlink_to(asc_dir / "yes" / "00000001_NO_01.flac")
    with pytest.raises(DataError, match="speaker 00000099 is in none of the official"):
        asc.prepare(tmp_path)
    assert_one_line_error(run("prepare", "arabic-speech-commands", tmp_path, "--out",
                              tmp_path / "o"), "00000099")


def test_download_offline_then_prepare(server, tmp_path, original_members):
    archive = tar_gz(original_members)
    server.files["/asc.tar.gz"] = archive
    dest = tmp_path / "corpora"
    result = run("download", "arabic-speech-commands", dest, "--url", f"{server.url}/asc.tar.gz",
                 "--sha256", hashlib.sha256(archive).hexdigest())
    assert result.exit_code == 0, result.output
    root = dest / "arabic_speech_commands"
    assert sorted(p.name for p in dest.iterdir()) == ["arabic-speech-commands-asc.tar.gz",
                                                      "arabic_speech_commands"]
    assert (root / "dataset" / "zoom in" / "00000003_NO_02.wav").is_file()
    assert "asr prepare arabic-speech-commands" in result.output
    unpinned = run("download", "arabic-speech-commands", tmp_path / "z",
                   "--url", f"{server.url}/asc.tar.gz")
    assert f"SHA-256 is {hashlib.sha256(archive).hexdigest()}" in unpinned.output
    out = tmp_path / "m"
    assert run("prepare", "arabic-speech-commands", root, "--out", out).exit_code == 0
    assert len(read_manifest(out / "test.jsonl")) == 4
    bad = run("download", "arabic-speech-commands", tmp_path / "x",
              "--url", f"{server.url}/asc.tar.gz", "--sha256", "0" * 64)
    assert_one_line_error(bad, "SHA-256", "does not match")
    server.files["/notasc.tar.gz"] = tar_gz({"top/readme.txt": b"hello"})
    wrong = run("download", "arabic-speech-commands", tmp_path / "y",
                "--url", f"{server.url}/notasc.tar.gz")
    assert_one_line_error(wrong, "not the expected corpus")
    assert not (tmp_path / "y" / "arabic_speech_commands").exists()
