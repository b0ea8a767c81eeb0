"""``asr learning-curve``: nested subsets, and a tiny real curve (2 points, 1 seed) whose DTW 1-NN
column is checked against a brute-force 1-NN computed here."""

import json
from pathlib import Path

import pytest
import soundfile
import torch
import yaml
from _support import assert_one_line_error
from click.testing import CliRunner
from matplotlib.image import imread

from asr.cli import main
from asr.corpora import Utterance, read_manifest, write_manifest
from asr.training.learning_curve import folder_default, nested_subset

WORDS = ("0", "1", "7")
TINY = [
    "frontend.sample_rate=8000",
    "frontend.fmax=4000",
    "model.tdnn_dims=[32,32]",
    "model.tdnn_contexts=[3,3]",
    "model.tdnn_dilations=[1,2]",
    "model.tdnn_strides=[1,2]",
    "model.embed_dim=16",
    "model.templates_per_word=auto",
    "train.epochs=2",
    "train.batch_size=16",
    "train.speeds=[1.0]",
    "train.threads=1",
    "train.jobs=1",
]


def fake(words, speakers, takes):
    return [Utterance(id=f"{w}_{s}_{t}", path=f"{w}_{s}_{t}.wav", word=w, speaker=s,
                      duration=1.0) for w in words for s in speakers for t in range(takes)]


def test_subsets_are_nested_balanced_and_seeded():
    utts = fake("abc", ["s1", "s2", "s3"], 10)
    for seed in (0, 1):
        previous = set()
        for count in (1, 2, 3, 5, 10, 30):
            subset = nested_subset(utts, count, seed)
            ids = {u.id for u in subset}
            assert previous <= ids  # nested
            previous = ids
            for w in "abc":
                mine = [u for u in subset if u.word == w]
                assert len(mine) == min(count, 30)
                per_speaker = [sum(u.speaker == s for u in mine) for s in ("s1", "s2", "s3")]
                assert max(per_speaker) - min(per_speaker) <= 1  # speakers interleaved
    assert nested_subset(utts, 4, 0) != nested_subset(utts, 4, 1)
    assert nested_subset(utts, 4, 0) == nested_subset(list(reversed(utts)), 4, 0)
    two = nested_subset(utts, 2, 0, per_speaker=True)
    assert len(two) == 3 * 3 * 2
    assert {u.id for u in nested_subset(utts, 1, 0, per_speaker=True)} <= {u.id for u in two}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, fsdd_dir):
    root = tmp_path_factory.mktemp("curve-fsdd")
    rec = fsdd_dir / "recordings"

    def part(speakers, takes):
        return [Utterance(id=f"{w}_{s}_{t}", path=rec / f"{w}_{s}_{t}.wav", word=w, speaker=s,
                          duration=soundfile.info(rec / f"{w}_{s}_{t}.wav").duration)
                for w in WORDS for s in speakers for t in takes]

    write_manifest(root / "train.jsonl", part(["george", "lucas"], range(6)))
    write_manifest(root / "valid.jsonl", part(["nicolas"], range(3)))
    write_manifest(root / "test.jsonl", part(["jackson"], range(6)))
    return root


def test_tiny_curve(tmp_path, data_dir):
    from asr.config import apply_overrides
    from asr.dtw import pairwise_dtw
    from asr.features import extract_features

    exp = tmp_path / "curve"
    args = ["learning-curve", "--data", data_dir, "--exp", exp, "--per-word", "2,4",
            "--seeds", "0", *TINY]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((exp / "curve.json").read_text())
    assert [row["count"] for row in summary["rows"]] == [2, 4]
    assert summary["methods"] == ["trained", "dtw1nn", "blend"]
    assert len((exp / "curve.md").read_text().splitlines()) == 4  # head, rule, 2 rows
    assert imread(exp / "curve.png").shape[0] > 100

    # DTW 1-NN column against brute force on the same subset, one utterance at a time
    config = apply_overrides(folder_default(), TINY)  # the command's default config
    test = read_manifest(data_dir / "test.jsonl")
    test_feats = [extract_features(u.path, config.frontend) for u in test]
    for row in summary["rows"]:
        run = exp / "runs" / "seed0" / f"n{row['count']}"
        train = read_manifest(run / "data" / "train.jsonl")
        assert len(train) == row["count"] * len(WORDS)
        train_feats = [extract_features(u.path, config.frontend) for u in train]
        dist = pairwise_dtw(test_feats, train_feats, step=config.model.step,
                            normalize=config.model.normalize)
        nearest = [train[i].word for i in dist.argmin(dim=1).tolist()]
        expected = sum(n == u.word for n, u in zip(nearest, test, strict=True)) / len(test)
        assert row["dtw1nn_test"] == pytest.approx(expected, abs=1e-6)
        # the trained run resolved its auto values from its own subset and recorded them
        stored = yaml.safe_load((run / "trained" / "config.yaml").read_text())
        assert stored["model"]["templates_per_word"] == min(row["count"], 4)
        auto = json.loads((run / "trained" / "results.json").read_text())["auto"]
        assert auto["model.templates_per_word"]["value"] == min(row["count"], 4)
        assert auto["data"]["per_word"] == row["count"]
    assert torch.isfinite(torch.tensor([r["blend_test"] for r in summary["rows"]])).all()

    # a rerun reuses every finished run and gives the same table
    again = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert again.exit_code == 0 and json.loads((exp / "curve.json").read_text())["rows"] == \
        summary["rows"]


@pytest.mark.parametrize("extra,needle", [
    (["--per-word", "3,x"], "comma-separated integers"),
    (["--per-word", "0,3"], "counts >= 1"),
    (["--per-word", "3", "--seeds", "a"], "--seeds"),
])
def test_bad_arguments(tmp_path, data_dir, extra, needle):
    result = CliRunner().invoke(main, ["learning-curve", "--data", str(data_dir), "--exp",
                                       str(tmp_path / "e"), *extra])
    assert result.exit_code == 2 and needle in result.output and "Traceback" not in \
        result.output


def test_speaker_cmvn_is_refused(tmp_path, data_dir):
    result = CliRunner().invoke(main, ["learning-curve", "--data", str(data_dir), "--exp",
                                       str(tmp_path / "e"), "--per-word", "2",
                                       "frontend.cmvn=speaker"])
    assert_one_line_error(result, "one utterance at a time")


def test_a_finished_run_of_another_config_is_not_reused(tmp_path):
    from asr.config import Config, apply_overrides, save_config
    from asr.errors import ConfigError
    from asr.training.learning_curve import _train_or_reuse

    run = tmp_path / "run"
    run.mkdir()
    save_config(apply_overrides(Config(), ["model.templates_per_word=3"]), run / "config.yaml")
    (run / "results.json").write_text(json.dumps({"train_seconds": 1.0}))
    same = apply_overrides(Config(), ["model.templates_per_word=auto", "train.threads=1"])
    assert _train_or_reuse(tmp_path, run, same, progress=False) == {"train_seconds": 1.0}
    other = apply_overrides(Config(), ["model.templates_per_word=auto", "model.gamma=5"])
    with pytest.raises(ConfigError, match="model.gamma"):
        _train_or_reuse(tmp_path, run, other, progress=False)


def test_curve_with_a_pretrained_tdnn_scores_the_enrollment_path(tmp_path, data_dir):
    """With train.init_encoder, the curve adds ``enrolled``: templates made from the subset
    through the pretrained TDNN, nothing trained; the trained run starts from that TDNN too."""
    from asr.checkpoint import load_recognizer

    source = tmp_path / "source"
    folder = Path(__file__).resolve().parents[1] / "recipes" / "folder" / "conf" / "default.yaml"
    result = CliRunner().invoke(main, ["train", "--data", str(data_dir), "--exp", str(source),
                                       "--config", str(folder), "--quiet", *TINY],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exp = tmp_path / "curve"
    args = ["learning-curve", "--data", data_dir, "--exp", exp, "--per-word", "2", "--seeds",
            "0", *TINY, f"train.init_encoder={source}"]
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads((exp / "curve.json").read_text())
    assert summary["methods"] == ["trained", "dtw1nn", "blend", "enrolled"]
    assert 0 <= summary["rows"][0]["enrolled_test"] <= 1
    run = exp / "runs" / "seed0" / "n2"
    assert json.loads((run / "enrolled" / "results.json").read_text())["epochs"] == 0
    pretrained, _ = load_recognizer(source, "best")
    enrolled, _ = load_recognizer(run / "enrolled", "best")
    for key, value in pretrained.encoder.state_dict().items():
        torch.testing.assert_close(enrolled.encoder.state_dict()[key], value)
    assert "enrolled" in (exp / "curve.md").read_text().splitlines()[0]
