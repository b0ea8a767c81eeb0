"""The ``prepare`` and ``features`` commands end to end, and every user error through the CLI:
one line naming the file and the rule, a non-zero exit, no traceback."""

import numpy as np
import pytest
import soundfile as sf
import torch
from _support import assert_one_line_error
from click.testing import CliRunner

from asr.cli import main
from asr.corpora import Utterance, read_manifest, write_manifest


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def counts(out):
    return {s: len(read_manifest(out / f"{s}.jsonl", allow_empty=True))
            for s in ("train", "valid", "test")}


# ---------------------------------------------------------------- prepare
def test_prepare_fsdd_standard_split(fsdd_dir, tmp_path):
    out = tmp_path / "data" / "fsdd"
    result = run("prepare", "fsdd", fsdd_dir, "--out", out)
    assert result.exit_code == 0, result.output
    c = counts(out)
    assert c["train"] + c["valid"] == 2250 and c["test"] == 250
    assert "train" in result.output and "2000" in result.output and "250" in result.output
    speakers = {u.speaker for s in ("train", "valid", "test")
                for u in read_manifest(out / f"{s}.jsonl")}
    assert len(speakers) == 5


def test_prepare_fsdd_speaker_independent(fsdd_dir, tmp_path):
    out = tmp_path / "si"
    result = run("prepare", "fsdd", fsdd_dir / "recordings", "--out", out,
                 "--test-speakers", "jackson", "--valid-fraction", "0.2")
    assert result.exit_code == 0, result.output
    test = read_manifest(out / "test.jsonl")
    rest = read_manifest(out / "train.jsonl") + read_manifest(out / "valid.jsonl")
    assert len(test) == 500 and {u.speaker for u in test} == {"jackson"}
    assert len(rest) == 2000 and "jackson" not in {u.speaker for u in rest}
    assert counts(out)["valid"] == 400


def test_prepare_speech_commands_sample(speech_commands_dir, tmp_path):
    result = run("prepare", "speech-commands", speech_commands_dir, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert counts(tmp_path) == {"train": 205, "valid": 44, "test": 51}
    result = run("prepare", "speech-commands", speech_commands_dir, "--out", tmp_path / "yn",
                 "--words", "yes,no")
    assert result.exit_code == 0 and sum(counts(tmp_path / "yn").values()) == 20


def test_prepare_folder(speech_commands_dir, tmp_path):
    result = run("prepare", "folder", speech_commands_dir, "--out", tmp_path,
                 "--test-fraction", "0.25")
    assert result.exit_code == 0, result.output
    parts = {s: {u.speaker for u in read_manifest(tmp_path / f"{s}.jsonl")}
             for s in ("train", "valid", "test")}
    assert not parts["train"] & parts["test"] and not parts["train"] & parts["valid"]
    assert sum(counts(tmp_path).values()) == 300


def test_prepare_errors(fsdd_dir, tmp_path):
    assert_one_line_error(run("prepare", "timit", tmp_path, "--out", tmp_path),
                          "unknown corpus 'timit'", "fsdd", "speech-commands", "folder")
    assert_one_line_error(run("prepare", "fsdd", tmp_path, "--out", tmp_path / "o"),
                          str(tmp_path), "not an FSDD layout")
    assert_one_line_error(run("prepare", "speech-commands", fsdd_dir, "--out", tmp_path / "o"),
                          str(fsdd_dir), "not a Speech Commands layout")
    assert_one_line_error(run("prepare", "fsdd", fsdd_dir, "--out", tmp_path / "o",
                              "--test-speakers", "jackson,bob"), "unknown FSDD speaker(s) bob")
    bad_word = tmp_path / "folder_corpus" / "yes"
    bad_word.mkdir(parents=True)
    (bad_word / "anna_1.wav").write_text("not audio")
    assert_one_line_error(run("prepare", "folder", bad_word.parent, "--out", tmp_path / "o"),
                          str(bad_word / "anna_1.wav"), "not a readable audio file")
    assert not (tmp_path / "o").exists()


def test_usage_errors_name_the_argument(tmp_path):
    missing = tmp_path / "nowhere"
    result = run("prepare", "fsdd", missing, "--out", tmp_path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"Directory '{missing}' does not exist" in result.output.splitlines()[-1]
    result = run("prepare", "fsdd", tmp_path, "--out", tmp_path, "--valid-fraction", "1.5")
    assert result.exit_code == 2 and "--valid-fraction" in result.output.splitlines()[-1]


# ---------------------------------------------------------------- features
@pytest.fixture()
def small_manifest(fsdd_dir, tmp_path):
    utts = [Utterance(f.stem, f, f.stem[0], "lucas", 0.5)
            for f in sorted((fsdd_dir / "recordings").glob("[0-4]_lucas_9.wav"))]
    path = tmp_path / "m.jsonl"
    write_manifest(path, utts)
    return path


def test_features_command_computes_then_loads(small_manifest, tmp_path):
    conf = tmp_path / "fe.yaml"
    conf.write_text("frontend:\n  sample_rate: 8000\n  n_mels: 30\n  kind: logmel\n  deltas: 1\n")
    cache = tmp_path / "cache"
    result = run("features", small_manifest, "--cache", cache, "--config", conf,
                 "--speed", "1.0", "--speed", "0.9", "--jobs", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2 and all("5 utterances" in line and "x 60 dims computed" in line
                                   for line in lines)
    assert len(list(cache.glob("*.pt"))) == 2
    again = run("features", small_manifest, "--cache", cache, "--config", conf)
    assert again.exit_code == 0 and "loaded" in again.output
    blob = torch.load(next(cache.glob("*.pt")), weights_only=True)
    assert blob["features"].shape[1] == 60


def _manifest_of(tmp_path, audio):
    path = tmp_path / "bad.jsonl"
    write_manifest(path, [Utterance("x", audio, "yes", "s", 1.0)])
    return path


def test_every_bad_audio_file_is_one_line_through_the_cli(tmp_path):
    cases = {}
    cases["missing.wav"] = "no such audio file"
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["empty.wav"] = "empty file"
    (tmp_path / "text.wav").write_text("hello, I am not a sound\n")
    cases["text.wav"] = "not a readable audio file"
    good = tmp_path / "good.wav"
    sf.write(good, (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32), 16000)
    (tmp_path / "corrupt.wav").write_bytes(good.read_bytes()[:44].replace(b"fmt ", b"fmX "))
    cases["corrupt.wav"] = "not a readable audio file"
    sf.write(tmp_path / "short.wav", np.full(100, 0.1, dtype=np.float32), 16000)
    cases["short.wav"] = "shorter than one analysis window"
    for name, rule in cases.items():
        manifest = _manifest_of(tmp_path, tmp_path / name)
        result = run("features", manifest, "--cache", tmp_path / "cache", "--jobs", "1")
        assert_one_line_error(result, str(tmp_path / name), rule)


def test_bad_manifest_and_config_through_the_cli(small_manifest, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a"}\n')
    assert_one_line_error(run("features", broken, "--cache", tmp_path / "c"),
                          f"{broken}:1", "missing key")
    conf = tmp_path / "bad.yaml"
    conf.write_text("frontend:\n  kind: plp\n")
    assert_one_line_error(run("features", small_manifest, "--cache", tmp_path / "c",
                              "--config", conf), str(conf), "frontend.kind='plp'", "mfcc, logmel")
    conf.write_text("frontend: [unclosed\n")
    assert_one_line_error(run("features", small_manifest, "--cache", tmp_path / "c",
                              "--config", conf), str(conf), "not a readable YAML file")
