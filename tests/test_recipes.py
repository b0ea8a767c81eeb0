"""Recipe smoke tests: every stage of each recipe produces its files, on small real data.

The recipes are run as users run them (``bash recipes/<corpus>/run.sh``) with a tiny model
config, on a few FSDD recordings, on the Speech Commands sample, and on a ``<word>/<file>.wav``
folder. A rerun must skip the finished stages.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _support import tar_gz

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "frontend": {"sample_rate": 8000, "fmax": 4000.0},
    "model": {
        "tdnn_dims": [32, 32],
        "tdnn_contexts": [3, 3],
        "tdnn_dilations": [1, 2],
        "tdnn_strides": [1, 2],
        "embed_dim": 16,
        "templates_per_word": 1,
    },
    "train": {"epochs": 1, "batch_size": 16, "threads": 1, "jobs": 1},
}


def run_recipe(recipe_dir, *args, cwd, env=None):
    """Run ``recipe_dir/run.sh`` with the test's Python environment first on PATH."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = dict(os.environ, **(env or {}), PATH=path)
    return subprocess.run(["bash", str(Path(recipe_dir) / "run.sh"), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def tiny_config(tmp_path, sample_rate=8000):
    config = json.loads(json.dumps(TINY))
    config["frontend"] = {"sample_rate": sample_rate, "fmax": sample_rate / 2}
    path = tmp_path / f"tiny{sample_rate}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def copy_recipe(tmp_path, name):
    """A private copy of the recipe folder, so that its data/ and exp/ land in tmp_path."""
    target = tmp_path / "recipes" / name
    shutil.copytree(REPO / "recipes" / name, target, ignore=shutil.ignore_patterns("data", "exp"))
    return target


@pytest.fixture
def fsdd_small(tmp_path, fsdd_dir):
    """Three digits, five speakers, takes 0-11: FSDD's layout with links to the real files."""
    root = tmp_path / "fsdd-small" / "recordings"
    root.mkdir(parents=True)
    for source in (fsdd_dir / "recordings").glob("*.wav"):
        digit, _, take = source.stem.split("_")
        if digit in "017" and int(take) < 12:
            (root / source.name).symlink_to(source)
    return root.parent


def test_fsdd_recipe_stages(tmp_path, fsdd_small):
    recipe = copy_recipe(tmp_path, "fsdd")
    config = tiny_config(tmp_path)
    args = ["--data-dir", fsdd_small, "--config", config, "--compare-config", config,
            "--losses", "mmi,hinge"]
    result = run_recipe(recipe, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    exp = recipe / "exp" / "standard"
    data = recipe / "data" / "standard"
    for path in [
        data / "train.jsonl", data / "valid.jsonl", data / "test.jsonl",
        exp / "train" / "results.json", exp / "train" / "best.pt", exp / "train" / "config.yaml",
        exp / "eval.txt", exp / "train" / "confusion.png", exp / "align.png", exp / "align.json",
        exp / "compare" / "comparison.md", exp / "compare" / "comparison.json",
        exp / "compare" / "curves.png", exp / "compare" / "energies.png",
    ]:
        assert path.is_file() and path.stat().st_size > 0, path
    for stage in range(1, 6):
        assert (exp / ".done" / f"stage{stage}").is_file()
    assert "accuracy" in result.stdout
    rerun = run_recipe(recipe, *args, cwd=tmp_path)
    assert rerun.returncode == 0
    assert rerun.stdout.count("skipped") == 5


def test_fsdd_recipe_downloads_when_no_data_dir_is_given(tmp_path, fsdd_dir, server):
    top = "free-spoken-digit-dataset-1.0.9"
    members = {
        f"{top}/recordings/{wav.name}": wav.read_bytes()
        for wav in (fsdd_dir / "recordings").glob("[01]_*_[0-9].wav")
    }
    server.files["/fsdd.tar.gz"] = tar_gz(members)
    recipe = copy_recipe(tmp_path, "fsdd")
    env = {"ASR_FSDD_URL": f"{server.url}/fsdd.tar.gz"}
    result = run_recipe(recipe, "--stop-stage", 1, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (recipe / "downloads" / "fsdd" / "recordings" / "0_george_3.wav").is_file()
    test = (recipe / "data" / "standard" / "test.jsonl").read_text().splitlines()
    assert len(test) == 2 * 5 * 5  # two digits, five speakers, takes 0-4
    again = run_recipe(recipe, "--stop-stage", 1, cwd=tmp_path, env=env)
    assert again.returncode == 0 and again.stdout.count("skipped") == 2
    assert len(server.requests) == 1


def test_speech_commands_recipe_stages(tmp_path, speech_commands_dir):
    recipe = copy_recipe(tmp_path, "speech_commands")
    config = tiny_config(tmp_path, sample_rate=16000)
    result = run_recipe(recipe, "--data-dir", speech_commands_dir, "--config", config,
                        cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    exp, data = recipe / "exp" / "task10", recipe / "data" / "task10"
    train = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    assert {row["word"] for row in train} == set("yes no up down left right on off stop go".split())
    for path in [exp / "train" / "results.json", exp / "eval.txt", exp / "align.png",
                 exp / "align.json", exp / "train" / "confusion.png"]:
        assert path.is_file() and path.stat().st_size > 0, path


def test_folder_recipe_stages(tmp_path, speech_commands_dir):
    corpus = tmp_path / "corpus"
    for word in ("yes", "no", "up"):
        (corpus / word).mkdir(parents=True)
        for wav in sorted((speech_commands_dir / word).glob("*.wav")):
            (corpus / word / wav.name).symlink_to(wav)
    recipe = copy_recipe(tmp_path, "folder")
    config = tiny_config(tmp_path, sample_rate=16000)
    result = run_recipe(recipe, corpus, "--config", config, "--test-fraction", "0.3",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    exp, data = recipe / "exp" / "corpus", recipe / "data" / "corpus"
    speakers = {
        split: {json.loads(line)["speaker"] for line in (data / f"{split}.jsonl").open()}
        for split in ("train", "valid", "test")
    }
    assert speakers["test"] and not speakers["test"] & (speakers["train"] | speakers["valid"])
    for path in [exp / "train" / "results.json", exp / "eval.txt", exp / "align.png"]:
        assert path.is_file() and path.stat().st_size > 0, path


def test_recipes_reject_bad_arguments(tmp_path):
    for recipe, args in [("fsdd", ["--bogus"]), ("speech_commands", ["--task", "7"]),
                         ("folder", [])]:
        result = run_recipe(REPO / "recipes" / recipe, *args, cwd=tmp_path)
        assert result.returncode == 2, (recipe, result.stderr)
        assert result.stderr.count("\n") == 1
