"""The user-facing commands on a small real experiment: train, eval, recognize, align,
compare-losses, and their answers to bad input.

One tiny recognizer (three digits, small TDNN, a few epochs on real FSDD audio) is trained once
per session through the CLI; every other command is run against it.
"""

import json
from pathlib import Path

import pytest
from _support import assert_one_line_error, fsdd_utterances
from click.testing import CliRunner
from matplotlib.image import imread

from asr.cli import main
from asr.corpora import write_manifest

WORDS = ("0", "1", "7")
TINY = [
    "frontend.sample_rate=8000",
    "frontend.fmax=4000",
    "model.tdnn_dims=[48,48]",
    "model.tdnn_contexts=[3,3]",
    "model.tdnn_dilations=[1,2]",
    "model.tdnn_strides=[1,2]",
    "model.embed_dim=24",
    "model.templates_per_word=2",
    "train.batch_size=16",
    "train.threads=1",
    "train.jobs=1",
]


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def fsdd_subset(recordings: Path, takes):
    return fsdd_utterances(recordings, WORDS,
                           ("george", "jackson", "lucas", "nicolas", "yweweler"), takes)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, fsdd_dir):
    root = tmp_path_factory.mktemp("tiny-fsdd")
    recordings = fsdd_dir / "recordings"
    write_manifest(root / "train.jsonl", fsdd_subset(recordings, range(5, 17)))
    write_manifest(root / "valid.jsonl", fsdd_subset(recordings, range(45, 48)))
    write_manifest(root / "test.jsonl", fsdd_subset(recordings, range(0, 4)))
    return root


@pytest.fixture(scope="module")
def exp_dir(data_dir, tmp_path_factory):
    exp = tmp_path_factory.mktemp("exp") / "tiny"
    result = invoke("train", "--data", data_dir, "--exp", exp, "--epochs", 3, "--seed", 0,
                    "--quiet", *TINY)
    assert result.exit_code == 0, result.output
    return exp


def test_train_writes_a_self_describing_experiment(exp_dir):
    for name in ("config.yaml", "metrics.jsonl", "best.pt", "last.pt", "results.json"):
        assert (exp_dir / name).is_file(), name
    results = json.loads((exp_dir / "results.json").read_text())
    assert results["test"]["accuracy"] > 0.6  # 3 words: chance is 1/3
    assert results["versions"]["torch"]
    assert "asr" in results["command_line"]


def test_train_reports_every_epoch_unless_quiet(data_dir, tmp_path):
    loud = invoke("train", "--data", data_dir, "--exp", tmp_path / "a", "--epochs", 1, *TINY,
                  "model.kind=templates")
    assert loud.exit_code == 0, loud.output
    assert "epoch 1: train loss" in loud.output
    quiet = invoke("train", "--data", data_dir, "--exp", tmp_path / "b", "--epochs", 1, *TINY,
                   "model.kind=templates", "--quiet")
    assert quiet.exit_code == 0 and "epoch 1:" not in quiet.output


def test_eval_table_json_and_pictures(exp_dir, data_dir):
    result = invoke("eval", "--exp", exp_dir, "--format", "json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    stored = json.loads((exp_dir / "results.json").read_text())
    assert scored["accuracy"] == pytest.approx(stored["test"]["accuracy"])
    assert sum(map(sum, scored["confusion"])) == len(WORDS) * 5 * 4
    assert set(scored["rejection_for_error"]) == {"0.01", "0.001"}
    for picture in ("confusion.png", "rejection.png"):
        assert imread(exp_dir / picture).shape[1] > 200
    table = invoke("eval", "--exp", exp_dir, "--manifest", data_dir / "valid.jsonl")
    assert table.exit_code == 0 and "accuracy" in table.output
    assert (exp_dir / "valid-eval.json").is_file()


def test_eval_of_an_ensemble_combines_standardized_energies(exp_dir, data_dir, tmp_path):
    from asr.evaluate import score
    from asr.inference import load_experiment, manifest_energies
    from asr.recognition.ensemble import combine_energies

    nn1 = tmp_path / "nn1"
    trained = invoke("train", "--data", data_dir, "--exp", nn1, "--quiet", *TINY,
                     "model.kind=dtw1nn", "frontend.deltas=1", "frontend.cmvn=meanvar")
    assert trained.exit_code == 0, trained.output
    out = tmp_path / "ensemble"
    result = invoke("eval", "--exp", exp_dir, "--exp", nn1, "--out", out, "--format", "json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    energies = []
    for exp in (exp_dir, nn1):
        recognizer, config = load_experiment(exp)
        e, labels, _ = manifest_energies(recognizer, config, data_dir / "test.jsonl")
        energies.append(e)
    expected = score(combine_energies(energies), labels, recognizer.words)
    assert scored["accuracy"] == pytest.approx(expected["accuracy"])
    assert scored["confusion"] == expected["confusion"]
    assert scored["experiments"] == [str(exp_dir), str(nn1)]
    assert (out / "eval.json").is_file() and (out / "confusion.png").is_file()
    usage = invoke("eval", "--exp", exp_dir, "--exp", nn1)
    assert usage.exit_code == 2 and usage.output.strip().count("\n") == 0, usage.output
    assert "--out" in usage.output


def test_eval_with_speaker_cmvn_and_speed_copies(data_dir, tmp_path):
    """Speaker CMVN over each speaker's test utterances; --speed averages the energies of the
    speed-perturbed copies (each copy a speaker of its own), checked against a direct
    computation from the front end."""
    import torch

    from asr.corpora import read_manifest
    from asr.evaluate import score
    from asr.features import raw_features, speaker_cmvn
    from asr.inference import load_experiment

    nn1 = tmp_path / "nn1"
    trained = invoke("train", "--data", data_dir, "--exp", nn1, "--quiet", *TINY,
                     "model.kind=dtw1nn", "frontend.deltas=1", "frontend.cmvn=speaker")
    assert trained.exit_code == 0, trained.output
    result = invoke("eval", "--exp", nn1, "--speed", 1.1, "--speed", 0.9, "--format", "json")
    assert result.exit_code == 0, result.output
    scored = json.loads(result.output)
    assert scored["speeds"] == [0.9, 1.1]
    recognizer, config = load_experiment(nn1)
    utterances = read_manifest(data_dir / "test.jsonl")
    speakers = [u.speaker for u in utterances]
    energies = 0
    for speed in (0.9, 1.1):
        feats = [raw_features(u.path, config.frontend, speed=speed) for u in utterances]
        energies = energies + recognizer.energies(speaker_cmvn(feats, speakers)) / 2
    labels = torch.tensor([recognizer.words.index(u.word) for u in utterances])
    expected = score(energies, labels, recognizer.words)
    assert scored["accuracy"] == pytest.approx(expected["accuracy"])
    assert scored["confusion"] == expected["confusion"]
    assert scored["accuracy"] > 0.6  # 3 words: chance is 1/3
    bad = invoke("eval", "--exp", nn1, "--speed", 3)
    assert bad.exit_code == 2 and "--speed" in bad.output


def test_eval_refuses_to_combine_different_vocabularies(exp_dir, data_dir, tmp_path):
    from asr.corpora import read_manifest

    small = tmp_path / "two-words"
    small.mkdir()
    for split in ("train", "valid", "test"):
        utts = [u for u in read_manifest(data_dir / f"{split}.jsonl") if u.word != "7"]
        write_manifest(small / f"{split}.jsonl", utts)
    other = tmp_path / "other"
    trained = invoke("train", "--data", small, "--exp", other, "--quiet", *TINY,
                     "model.kind=dtw1nn")
    assert trained.exit_code == 0, trained.output
    result = invoke("eval", "--exp", exp_dir, "--exp", other, "--out", tmp_path / "x")
    assert_one_line_error(result, "vocabulary")


def test_recognize_reports_each_file_and_fails_only_the_bad_ones(exp_dir, fsdd_dir, tmp_path):
    good = fsdd_dir / "recordings" / "7_jackson_0.wav"
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    result = invoke("recognize", "--exp", exp_dir, good, empty, "--top", 2, "--format", "json")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert rows[0]["path"] == str(good) and len(rows[0]["words"]) == 2
    assert rows[0]["energies"][0] <= rows[0]["energies"][1]
    assert rows[0]["margin"] == pytest.approx(rows[0]["energies"][1] - rows[0]["energies"][0])
    assert "empty.wav" in rows[1]["error"]
    assert "Traceback" not in result.output


def test_align_with_model_writes_png_and_monotone_path(exp_dir, fsdd_dir, tmp_path):
    wav = fsdd_dir / "recordings" / "1_lucas_2.wav"
    out, js = tmp_path / "align.png", tmp_path / "align.json"
    result = invoke("align", "--exp", exp_dir, wav, "--word", "1", "--out", out, "--json", js)
    assert result.exit_code == 0, result.output
    assert imread(out).shape[1] > 400
    payload = json.loads(js.read_text())
    assert payload["word"] == "1" and set(payload["energies"]) == set(WORDS)
    steps = [(p["query_frame"], p["template_frame"]) for p in payload["path"]]
    assert steps[0] == (0, 0)
    for (i0, j0), (i1, j1) in zip(steps, steps[1:], strict=False):
        assert 0 <= i1 - i0 <= 1 and 0 <= j1 - j0 <= 2 and (i1, j1) != (i0, j0)
    times = [p["query_time"] for p in payload["path"]]
    assert times == sorted(times)


def test_align_two_recordings_without_a_model(fsdd_dir, tmp_path):
    a = fsdd_dir / "recordings" / "3_george_0.wav"
    b = fsdd_dir / "recordings" / "3_lucas_0.wav"
    out, js = tmp_path / "dtw.png", tmp_path / "dtw.json"
    result = invoke("align", a, b, "--out", out, "--json", js)
    assert result.exit_code == 0, result.output
    assert imread(out).shape[1] > 300
    path = json.loads(js.read_text())["path"]
    assert (path[0]["query_frame"], path[0]["template_frame"]) == (0, 0)
    assert all(p["template_time"] >= 0 for p in path)


@pytest.mark.parametrize(
    "args",
    [
        ["align", "only-one.wav", "--out", "x.png"],
        ["align", "--out", "x.png"],
    ],
)
def test_align_usage_errors(args):
    result = invoke(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_align_unknown_word_and_bad_file(exp_dir, fsdd_dir, tmp_path):
    wav = fsdd_dir / "recordings" / "1_lucas_2.wav"
    assert_one_line_error(invoke("align", "--exp", exp_dir, wav, "--word", "nine",
                                 "--out", tmp_path / "a.png"))
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    assert_one_line_error(invoke("align", "--exp", exp_dir, text, "--out", tmp_path / "a.png"))


def test_output_folders_the_file_system_refuses_are_one_line_errors(exp_dir, data_dir,
                                                                   tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "out"
    assert_one_line_error(invoke("eval", "--exp", exp_dir, "--exp", exp_dir, "--out", out),
                          str(out), "Not a directory")
    assert_one_line_error(invoke("train", "--data", data_dir, "--exp", out, "--quiet", *TINY),
                          str(out))


def test_damaged_checkpoint_is_a_one_line_error(exp_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.yaml", "results.json"):
        (broken / name).write_bytes((exp_dir / name).read_bytes())
    (broken / "best.pt").write_bytes((exp_dir / "best.pt").read_bytes()[:1000])
    assert_one_line_error(invoke("eval", "--exp", broken))
    assert_one_line_error(invoke("recognize", "--exp", tmp_path, "x.wav"))


def test_compare_losses_table_json_pictures_and_reuse(data_dir, tmp_path):
    exp = tmp_path / "compare"
    args = ["compare-losses", "--data", data_dir, "--exp", exp, "--losses", "mmi,energy",
            "--seeds", "0", "--quiet", "train.epochs=1", *TINY]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert "| mmi |" in first.output and "| energy |" in first.output
    summary = json.loads((exp / "comparison.json").read_text())
    assert [row["loss"] for row in summary["rows"]] == ["mmi", "energy"]
    assert (exp / "comparison.md").read_text().startswith("| loss |")
    for picture in ("curves.png", "energies.png"):
        assert imread(exp / picture).shape[1] > 300
    stamp = (exp / "runs" / "mmi" / "seed0" / "best.pt").stat().st_mtime_ns
    again = invoke(*args)
    assert again.exit_code == 0 and "reused" in again.output
    assert (exp / "runs" / "mmi" / "seed0" / "best.pt").stat().st_mtime_ns == stamp


def test_compare_losses_rejects_unknown_loss(data_dir, tmp_path):
    result = invoke("compare-losses", "--data", data_dir, "--exp", tmp_path, "--losses", "mse")
    assert result.exit_code == 2 and "unknown loss" in result.output
