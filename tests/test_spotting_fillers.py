"""Training manifests for spotting with a filler class (asr.corpora.fillers,
``asr prepare with-fillers``): counts, labels, disjoint draws, the test list untouched."""

from _support import assert_one_line_error, fsdd_utterances
from click.testing import CliRunner

from asr.cli import main
from asr.corpora import read_manifest, write_manifest
from asr.spotting.engine import is_filler


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_prepare_with_fillers_for_spotting(fsdd_dir, tmp_path):
    rec = fsdd_dir / "recordings"
    keywords = tmp_path / "kw"
    parts = {"train": fsdd_utterances(rec, ["0", "1"], ["george"], range(5, 10)),
             "valid": fsdd_utterances(rec, ["0", "1"], ["george"], range(45, 47)),
             "test": fsdd_utterances(rec, ["0", "1"], ["jackson"], range(0, 3))}
    for name, utts in parts.items():
        write_manifest(keywords / f"{name}.jsonl", utts)
    others = tmp_path / "others.jsonl"  # "non-keyword speech": other digits, other speakers
    write_manifest(others, fsdd_utterances(rec, ["5", "8"], ["lucas", "nicolas"], range(0, 5)))

    out = tmp_path / "out"
    result = invoke("prepare", "with-fillers", keywords, "--fillers", others, "--out", out,
                    "--train", 12, "--valid", 5, "--seed", 1)
    assert result.exit_code == 0, result.output
    got = {s: read_manifest(out / f"{s}.jsonl", allow_empty=True) for s in parts}
    assert got["test"] == parts["test"]
    for name, extra in (("train", 12), ("valid", 5)):
        assert got[name][:len(parts[name])] == parts[name]
        added = got[name][len(parts[name]):]
        assert len(added) == extra
        assert all(u.word == "<filler>" and is_filler(u.word) and u.id.startswith("filler/")
                   for u in added)
    train_paths = {u.path for u in got["train"][10:]}
    valid_paths = {u.path for u in got["valid"][4:]}
    assert not train_paths & valid_paths  # drawn without replacement
    assert {p.name.split("_")[0] for p in train_paths | valid_paths} <= {"5", "8"}
    # one seed, one draw
    again = tmp_path / "again"
    assert invoke("prepare", "with-fillers", keywords, "--fillers", others, "--out", again,
                  "--train", 12, "--valid", 5, "--seed", 1).exit_code == 0
    assert read_manifest(again / "train.jsonl") == got["train"]

    assert_one_line_error(invoke("prepare", "with-fillers", keywords, "--fillers", others,
                                 "--out", tmp_path / "x", "--train", 18, "--valid", 5), "20")
    assert_one_line_error(invoke("prepare", "with-fillers", out, "--fillers", others,
                                 "--out", tmp_path / "y", "--train", 2, "--valid", 0),
                          "<filler>")
