"""The Arabic Speech Commands recipe end to end on a tiny real subset of the shared copy
(3 words x 2 train speakers + 1 validation speaker x 3 takes, FLAC): every stage writes its files,
the results table names every system (the MFCC and log-mel experts, their exemplar experts, the
products, the DTW 1-NN), training runs in two data-parallel processes with --nproc 2 and the two
experts side by side without it, a rerun skips every stage, and stage 3 on a tree trained
before exemplar experts existed builds them."""

import json
import shutil

import torch
from test_recipes import copy_recipe, run_recipe, tiny_config

from asr.checkpoint import load_recognizer

WORDS = ("yes", "no", "zoom_in")
SPEAKERS = ("00000001", "00000005", "00000002")  # official train, train, validation


def test_arabic_speech_commands_recipe_stages(tmp_path, shared_data):
    corpus = tmp_path / "asc"
    for word in WORDS:
        (corpus / word).mkdir(parents=True)
        for speaker in SPEAKERS:
            for take in (1, 2, 3):
                name = f"{speaker}_NO_{take:02d}.flac"
                (corpus / word / name).symlink_to(shared_data / "arabic_speech_commands" / word
                                                  / name)
    recipe = copy_recipe(tmp_path, "arabic_speech_commands")
    config = tiny_config(tmp_path, sample_rate=16000)
    logmel = tiny_config(tmp_path, sample_rate=16000, kind="logmel")
    args = ["--data-dir", corpus, "--config", config, "--logmel-config", logmel,
            "--eval-speeds", "1,1.1", "--dtw-takes", 2, "--nproc", 2]
    result = run_recipe(recipe, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    exp, data = recipe / "exp" / "official", recipe / "data" / "official"
    assert (data / "test.jsonl").read_text() == ""
    assert "test.jsonl is empty" in result.stdout
    for path in [data / "train.jsonl", data / "valid.jsonl", exp / "train" / "results.json",
                 exp / "train" / "valid-eval.json", exp / "train" / "valid-confusion.png",
                 exp / "train_logmel" / "valid-eval.json", exp / "ensemble" / "valid-eval.json",
                 exp / "dtw1nn" / "valid-eval.json", exp / "align.png", exp / "align.json",
                 exp / "exemplars_train" / "valid-eval.json",
                 exp / "exemplars_train_logmel" / "valid-eval.json",
                 exp / "ensemble_exemplars" / "valid-eval.json",
                 exp / "results.md", exp / "results.json", exp / "eval.txt"]:
        assert path.is_file() and path.stat().st_size > 0, path
    exemplars = (data / "dtw1nn_takes2" / "train.jsonl").read_text().splitlines()
    assert len(exemplars) == 3 * 2 * 2  # words x train speakers x takes 1-2
    summary = json.loads((exp / "results.json").read_text())
    rows = {r["system"]: r for r in summary["systems"]}
    systems = {"train", "train_logmel", "ensemble", "dtw1nn", "exemplars_train",
               "exemplars_train_logmel", "ensemble_exemplars"}
    assert summary["parts"] == ["valid"] and set(rows) == systems
    for system in systems:
        ev = json.loads((exp / system / "valid-eval.json").read_text())
        assert rows[system]["valid_accuracy"] == ev["accuracy"]
        assert ev["num_utterances"] == 3 * 3  # the whole validation part, one speaker
    ensemble = json.loads((exp / "ensemble" / "valid-eval.json").read_text())
    assert ensemble["speeds"] == [1.0, 1.1] and len(ensemble["experiments"]) == 2
    assert len(json.loads((exp / "ensemble_exemplars" / "valid-eval.json").read_text())
               ["experiments"]) == 4
    # an exemplar expert: the trained expert's G_W, every train clip of a word a template
    expert, _ = load_recognizer(exp / "train")
    memory, _ = load_recognizer(exp / "exemplars_train")
    assert len(memory.template_lengths) == 3 * 2 * 3  # words x train speakers x takes
    for key, value in expert.encoder.state_dict().items():
        torch.testing.assert_close(memory.encoder.state_dict()[key], value)
    for system in ("train", "train_logmel"):
        trained = json.loads((exp / system / "results.json").read_text())
        assert (trained["world_size"], trained["backend"]) == (2, "gloo")
    assert "kind: logmel" in (exp / "train_logmel" / "config.yaml").read_text()
    assert rows["train"]["epochs"] == 1 and rows["train"]["seconds_per_epoch"] is not None
    assert "plain DTW 1-NN" in result.stdout
    rerun = run_recipe(recipe, *args, cwd=tmp_path)
    assert rerun.returncode == 0 and rerun.stdout.count("skipped") == 6
    side = run_recipe(recipe, *args[:-2], "--tag", "side", "--stop-stage", 2, cwd=tmp_path)
    assert side.returncode == 0, side.stdout + side.stderr
    assert "[train_logmel] " in side.stdout and "[train] " in side.stdout
    for system in ("train", "train_logmel"):
        trained = json.loads((recipe / "exp" / "side" / system / "results.json").read_text())
        assert trained["world_size"] == 1 and trained["threads"] == 1
    # a tree trained before exemplar experts existed: stage 3 builds the missing ones
    for system in ("exemplars_train", "exemplars_train_logmel"):
        shutil.rmtree(recipe / "exp" / "side" / system)
    later = run_recipe(recipe, *args[:-2], "--tag", "side", "--stage", 3, "--stop-stage", 3,
                       cwd=tmp_path)
    assert later.returncode == 0, later.stdout + later.stderr
    assert "exemplars_train: " in later.stdout
    assert (recipe / "exp" / "side" / "ensemble_exemplars" / "valid-eval.json").is_file()
    bad = run_recipe(recipe, "--dtw-takes", 0, cwd=tmp_path)
    assert bad.returncode == 2 and "--dtw-takes must be 1..10" in bad.stderr
    bad = run_recipe(recipe, "--exemplars", "all", cwd=tmp_path)
    assert bad.returncode == 2 and "--exemplars: clips per word" in bad.stderr
    bad = run_recipe(recipe, "--nproc", "two", cwd=tmp_path)
    assert bad.returncode == 2 and "--nproc: a positive integer" in bad.stderr
