"""Training on real FSDD audio: it learns, it is reproducible, it resumes bit-for-bit after a kill,
and it reports bad settings and damaged checkpoints in one line."""

import json
import shutil

import pytest
import torch
import yaml
from _support import fsdd_utterances
from click.testing import CliRunner

import asr.train as train_module
from asr.checkpoint import load_checkpoint, load_recognizer, recognizer_from_payload
from asr.cli import main
from asr.config import Config, apply_overrides, load_config
from asr.corpora import write_manifest
from asr.errors import ConfigError
from asr.losses import LOSSES
from asr.train import bucket_batches, lr_factor, train

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "yweweler")
SMALL = [
    "frontend.sample_rate=8000", "frontend.fmax=4000", "frontend.cmvn=meanvar",
    "model.tdnn_dims=[64,64]", "model.tdnn_contexts=[5,3]", "model.tdnn_dilations=[1,2]",
    "model.tdnn_strides=[1,2]", "model.embed_dim=32", "model.templates_per_word=2",
    "train.batch_size=16", "train.threads=1", "train.jobs=1", "train.speeds=[0.9,1.0]",
]


def subset(fsdd_dir, words, takes):
    return fsdd_utterances(fsdd_dir / "recordings", words, SPEAKERS, takes)


def make_data(root, fsdd_dir, words, train_takes, valid_takes, test_takes):
    root.mkdir(parents=True, exist_ok=True)
    write_manifest(root / "train.jsonl", subset(fsdd_dir, words, train_takes))
    write_manifest(root / "valid.jsonl", subset(fsdd_dir, words, valid_takes))
    write_manifest(root / "test.jsonl", subset(fsdd_dir, words, test_takes))
    return root


@pytest.fixture(scope="module")
def four_words(tmp_path_factory, fsdd_dir):
    """4 digits x 5 speakers: 20 takes each to train, 5 to validate, takes 0-4 to test."""
    return make_data(tmp_path_factory.mktemp("four"), fsdd_dir, ["2", "3", "4", "8"],
                     range(10, 30), range(5, 10), range(0, 5))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, fsdd_dir):
    """3 digits x 5 speakers x 3 takes: for the reproducibility checks."""
    return make_data(tmp_path_factory.mktemp("tiny"), fsdd_dir, ["0", "1", "7"],
                     range(10, 13), range(5, 7), range(0, 2))


def config(*overrides):
    return apply_overrides(Config(), [*SMALL, *overrides])


@pytest.mark.slow
def test_short_real_training_beats_chance_and_the_initial_model(four_words, tmp_path):
    exp = tmp_path / "exp"
    results = train(four_words, exp, config("train.epochs=6"), progress=False)
    rows = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(7))
    assert results["test"]["accuracy"] >= 0.85          # chance is 0.25
    assert results["valid"]["accuracy"] > rows[0]["valid_accuracy"]   # training helped
    assert rows[-1]["train_loss"] < rows[1]["train_loss"]
    best = max(rows, key=lambda r: (r["valid_accuracy"], -r["valid_loss"]))
    assert results["valid"]["best_epoch"] == best["epoch"]
    # the experiment describes itself
    assert load_config(exp / "config.yaml") == config("train.epochs=6")
    assert (exp / "log" / "train.log").read_text().count("epoch") >= 6
    for key in ("versions", "git_hash", "command_line", "train_seconds", "data_dir"):
        assert key in results
    assert set(results["versions"]) >= {"python", "torch", "numpy", "numba", "librosa"}
    assert json.loads((exp / "results.json").read_text())["test"] == results["test"]
    assert results["test"]["real_time_factor"] > 10
    recognizer, cfg = load_recognizer(exp)
    assert recognizer.words == ["2", "3", "4", "8"] and not recognizer.training
    assert cfg.frontend.sample_rate == 8000
    assert not list(exp.glob("*.tmp")) and not list(exp.glob(".*.tmp"))


def test_dtw_1nn_baseline_needs_no_training(tiny, tmp_path):
    results = train(tiny, tmp_path / "nn", config("model.kind=dtw1nn"), progress=False)
    recognizer, _ = load_recognizer(tmp_path / "nn")
    assert len(recognizer.template_lengths) == 3 * 5 * 3   # every training utterance
    assert results["epochs"] == 0 and results["test"]["accuracy"] > 0.6


def last_state(exp):
    return load_checkpoint(exp / "last.pt")


def assert_same_training(a, b):
    sa, sb = last_state(a), last_state(b)
    assert sa["epoch"] == sb["epoch"]
    for key, value in sa["model_state"].items():
        assert torch.equal(value, sb["model_state"][key]), key
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in sa["history"]]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in sb["history"]]
    assert sa["best"] == sb["best"]
    assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])


def test_same_seed_same_results_other_seed_other_results(tiny, tmp_path):
    cfg = config("train.epochs=2", "train.vtlp=0.0", "model.dropout=0.2")
    train(tiny, tmp_path / "a", cfg, progress=False)
    train(tiny, tmp_path / "b", cfg, progress=False)
    assert_same_training(tmp_path / "a", tmp_path / "b")
    train(tiny, tmp_path / "c", apply_overrides(cfg, ["train.seed=1"]), progress=False)
    a, c = last_state(tmp_path / "a"), last_state(tmp_path / "c")
    assert not torch.equal(a["model_state"]["template_frames"],
                           c["model_state"]["template_frames"])


def kill_and_resume(data, exp, cfg, monkeypatch, kill_at: int, after_kill=None) -> None:
    """Train, interrupt at the ``kill_at``-th validation (epoch 0 is the first), call
    ``after_kill()``, then resume."""
    real_score, calls = train_module._score, {"n": 0}

    def killed(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == kill_at:
            raise KeyboardInterrupt
        return real_score(*args, **kwargs)

    monkeypatch.setattr(train_module, "_score", killed)
    with pytest.raises(KeyboardInterrupt):
        train(data, exp, cfg, progress=False)
    monkeypatch.setattr(train_module, "_score", real_score)
    if after_kill is not None:
        after_kill()
    train(data, exp, cfg, resume=True, progress=False)


def test_resume_after_a_kill_continues_bit_for_bit(tiny, tmp_path, monkeypatch):
    cfg = config("train.epochs=3", "model.dropout=0.2")
    train(tiny, tmp_path / "whole", cfg, progress=False)

    def lost_at_most_the_epoch_under_way():
        assert last_state(tmp_path / "killed")["epoch"] == 1

    # killed at epoch 2's validation (epoch 0 initial, epoch 1, then epoch 2)
    kill_and_resume(tiny, tmp_path / "killed", cfg, monkeypatch, kill_at=3,
                    after_kill=lost_at_most_the_epoch_under_way)
    assert_same_training(tmp_path / "whole", tmp_path / "killed")
    rows = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [0, 1, 2, 3]
    # resuming a finished run trains nothing more and changes nothing
    before = last_state(tmp_path / "killed")["model_state"]["template_frames"]
    train(tiny, tmp_path / "killed", cfg, resume=True, progress=False)
    assert torch.equal(before, last_state(tmp_path / "killed")["model_state"]["template_frames"])


def test_resume_with_other_settings_is_refused(tiny, tmp_path):
    cfg = config("train.epochs=1")
    train(tiny, tmp_path / "e", cfg, progress=False)
    with pytest.raises(ConfigError, match="train.lr"):
        train(tiny, tmp_path / "e", apply_overrides(cfg, ["train.lr=0.1"]), resume=True,
              progress=False)


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, fragment):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error:") and fragment in lines[-1], result.output


def test_cli_trains_with_config_file_options_and_overrides(tiny, tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump(config().to_dict()))
    exp = tmp_path / "cli"
    result = run_cli("train", "--data", tiny, "--exp", exp, "--config", conf, "--loss", "hinge",
                     "--seed", 3, "--epochs", 1, "--quiet", "train.lr=0.002")
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    saved = load_config(exp / "config.yaml")
    assert (saved.train.loss, saved.train.seed, saved.train.epochs, saved.train.lr) == (
        "hinge", 3, 1, 0.002)
    assert "--loss hinge" in json.loads((exp / "results.json").read_text())["command_line"]


def test_cli_damaged_checkpoint_and_bad_settings_are_one_line_errors(tiny, tmp_path):
    exp = tmp_path / "d"
    assert run_cli("train", "--data", tiny, "--exp", exp, "--epochs", 1, "--quiet",
                   *SMALL).exit_code == 0
    (exp / "last.pt").write_bytes((exp / "last.pt").read_bytes()[:2000])
    assert_one_line_error(run_cli("train", "--data", tiny, "--exp", exp, "--epochs", 1,
                                  "--resume", "--quiet", *SMALL), "last.pt")
    assert_one_line_error(run_cli("train", "--data", tiny, "--exp", exp, "train.lrr=1"),
                          "unknown key 'lrr'")
    assert_one_line_error(run_cli("train", "--data", tiny, "--exp", exp, "--loss", "mse"),
                          "train.loss")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run_cli("train", "--data", empty, "--exp", exp), "train.jsonl")


def test_words_missing_from_training_are_a_data_error(tiny, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny, data)
    rows = (data / "valid.jsonl").read_text().splitlines()
    row = json.loads(rows[0])
    row["word"] = "nine"
    (data / "valid.jsonl").write_text("\n".join([json.dumps(row), *rows[1:]]) + "\n")
    result = run_cli("train", "--data", data, "--exp", tmp_path / "x", "--quiet", *SMALL)
    assert_one_line_error(result, "'nine'")


def test_buckets_group_similar_lengths_and_cover_everything():
    import numpy as np

    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 100, size=103)
    batches = bucket_batches(lengths, 8, rng)
    assert sorted(i for b in batches for i in b) == list(range(103))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.ptp(lengths)
    assert bucket_batches(lengths, 8, np.random.default_rng(5)) == bucket_batches(
        lengths, 8, np.random.default_rng(5))


def test_learning_rate_schedule():
    assert lr_factor(0, 100, 10, "cosine") == pytest.approx(0.1)
    assert lr_factor(10, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, "cosine") == pytest.approx(0.5)
    assert lr_factor(99, 100, 0, "constant") == 1.0


def test_training_masks_in_the_standardized_domain(tiny, tmp_path, monkeypatch):
    """Under model.input_norm=global, train's SpecAugment fills masks with the model's input
    mean (0 once standardized), not with raw zeros."""
    seen = {}
    real = train_module.Augmenter

    def spy(*args, **kwargs):
        aug = real(*args, **kwargs)
        seen["fill"] = aug.fill
        return aug

    monkeypatch.setattr(train_module, "Augmenter", spy)
    train(tiny, tmp_path / "exp", config("model.input_norm=global", "frontend.cmvn=none",
                                         "train.epochs=1"), progress=False)
    rec, _ = load_recognizer(tmp_path / "exp", "last")
    torch.testing.assert_close(seen["fill"], rec.input_mean)
    assert float(rec.input_mean.abs().max()) > 1.0


def test_init_encoder_starts_from_another_experiments_tdnn(tiny, tmp_path):
    """train.init_encoder: the new experiment's TDNN starts as the given experiment's (with 0
    epochs the saved model is the initial one); another TDNN shape is a one-line ConfigError."""
    train(tiny, tmp_path / "source", config("train.epochs=1"), progress=False)
    train(tiny, tmp_path / "init", config("train.epochs=0", "train.seed=7",
                                          f"train.init_encoder={tmp_path / 'source'}"),
          progress=False)
    source, _ = load_recognizer(tmp_path / "source", "best")
    started, _ = load_recognizer(tmp_path / "init", "best")
    for key, value in source.encoder.state_dict().items():
        torch.testing.assert_close(started.encoder.state_dict()[key], value)
    scratch_dir = tmp_path / "scratch"
    train(tiny, scratch_dir, config("train.epochs=0", "train.seed=7"), progress=False)
    scratch, _ = load_recognizer(scratch_dir, "best")
    first = next(iter(source.encoder.state_dict()))
    assert not torch.equal(scratch.encoder.state_dict()[first], source.encoder.state_dict()[first])
    with pytest.raises(ConfigError, match="init_encoder"):
        train(tiny, tmp_path / "bad", config("train.epochs=0", "model.embed_dim=8",
                                             f"train.init_encoder={tmp_path / 'source'}"),
              progress=False)
    # a model without a TDNN (the exemplar expert of a pretrained recipe) ignores the setting
    results = train(tiny, tmp_path / "nn", config("model.kind=dtw1nn", "train.epochs=0",
                                                  f"train.init_encoder={tmp_path / 'source'}"),
                    progress=False)
    assert results["model"]["kind"] == "dtw1nn"


def test_weight_average_follows_its_formula_and_swaps_back():
    from asr.training.averaging import WeightAverage

    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    average = WeightAverage(module, decay=0.9)
    expected = {k: p.detach().clone() for k, p in module.named_parameters()}
    for t in range(30):
        with torch.no_grad():
            for p in module.parameters():
                p.add_(torch.randn_like(p))
        average.update()
        d = min(0.9, (1 + t) / (10 + t))
        for k, p in module.named_parameters():
            expected[k] = d * expected[k] + (1 - d) * p.detach()
    raw = {k: p.detach().clone() for k, p in module.named_parameters()}
    with average.swapped():
        for k, p in module.named_parameters():
            assert torch.allclose(p, expected[k], atol=1e-6), k
            assert not torch.equal(p, raw[k])
    for k, p in module.named_parameters():
        assert torch.equal(p, raw[k]), k            # the raw weights are back
    with pytest.raises(ValueError):
        WeightAverage(module, decay=1.0)


def test_weight_average_is_what_is_validated_kept_and_resumed(tiny, tmp_path, monkeypatch):
    cfg = config("train.epochs=3", "train.ema_epochs=1")
    train(tiny, tmp_path / "whole", cfg, progress=False)
    last = last_state(tmp_path / "whole")
    raw, kept = last["ema"]["raw"]["template_frames"], last["model_state"]["template_frames"]
    assert last["ema"]["steps"] > 0 and not torch.equal(raw, kept)
    # the last validation scored the averaged weights that last.pt holds
    recognizer, _ = recognizer_from_payload(last)
    valid = train_module._read_splits(tiny)["valid"]
    feats = train_module._features_of(train_module._cache(tiny, cfg), cfg, valid, speed=1.0)
    labels = torch.tensor([recognizer.words.index(u.word) for u in valid])
    scored = train_module._score(recognizer, feats, labels, LOSSES["mmi"], {})
    assert scored["accuracy"] == last["history"][-1]["valid_accuracy"]
    assert scored["loss"] == pytest.approx(last["history"][-1]["valid_loss"], rel=1e-5)

    kill_and_resume(tiny, tmp_path / "killed", cfg, monkeypatch, kill_at=3)
    assert_same_training(tmp_path / "whole", tmp_path / "killed")
    assert torch.equal(raw, last_state(tmp_path / "killed")["ema"]["raw"]["template_frames"])
