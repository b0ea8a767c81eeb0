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


def run_recipe(recipe_dir, *args, cwd, env=None, script="run.sh"):
    """Run ``recipe_dir/script`` with the test's Python environment first on PATH."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = dict(os.environ, **(env or {}), PATH=path)
    return subprocess.run(["bash", str(Path(recipe_dir) / script), *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def tiny_config(tmp_path, sample_rate=8000, **frontend):
    config = json.loads(json.dumps(TINY))
    config["frontend"] = {"sample_rate": sample_rate, "fmax": sample_rate / 2, **frontend}
    path = tmp_path / f"tiny{sample_rate}{''.join(map(str, frontend.values()))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def copy_recipe(tmp_path, name):
    """A private copy of the recipe folder (and of the shared recipes/lib/ it sources), so that
    its data/ and exp/ land in tmp_path."""
    target = tmp_path / "recipes" / name
    shutil.copytree(REPO / "recipes" / name, target, ignore=shutil.ignore_patterns("data", "exp"))
    shutil.copytree(REPO / "recipes" / "lib", tmp_path / "recipes" / "lib", dirs_exist_ok=True)
    return target


def link_fsdd(fsdd_dir, root, keep):
    """``root``/recordings/: links to the FSDD files whose (digit, speaker, take) ``keep`` accepts
    (FSDD's own layout, no audio copied); returns ``root``."""
    recordings = root / "recordings"
    recordings.mkdir(parents=True)
    for source in (fsdd_dir / "recordings").glob("*.wav"):
        digit, speaker, take = source.stem.split("_")
        if keep(digit, speaker, int(take)):
            (recordings / source.name).symlink_to(source)
    return root


@pytest.fixture
def fsdd_small(tmp_path, fsdd_dir):
    """Three digits, five speakers, takes 0-11."""
    return link_fsdd(fsdd_dir, tmp_path / "fsdd-small",
                     lambda digit, speaker, take: digit in "017" and take < 12)


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


@pytest.fixture
def fsdd_three_speakers(tmp_path, fsdd_dir):
    """Digits 0, 1 and 7 of george, jackson and lucas, takes 0-9."""
    return link_fsdd(fsdd_dir, tmp_path / "fsdd-three",
                     lambda digit, speaker, take: digit in "017"
                     and speaker in ("george", "jackson", "lucas") and take < 10)


def tiny_arabic_speech_commands(shared_data, root):
    """``root``: links to 2 words x 2 speakers (official train, validation) x 2 takes of the
    shared Arabic Speech Commands copy, in its layout."""
    for word in ("yes", "no"):
        (root / word).mkdir(parents=True)
        for speaker in ("00000001", "00000002"):
            for take in (1, 2):
                name = f"{speaker}_NO_{take:02d}.flac"
                (root / word / name).symlink_to(shared_data / "arabic_speech_commands" / word
                                                / name)
    return root


def tiny_speech_commands_digits(shared_data, root):
    """``root``: two training clips of "zero", "one" and "seven" from the shared Speech Commands
    sample, in its layout, with its split lists."""
    sample = shared_data / "speech_commands_sample"
    listed = set((sample / "validation_list.txt").read_text().split())
    listed |= set((sample / "testing_list.txt").read_text().split())
    for word in ("zero", "one", "seven"):
        (root / word).mkdir(parents=True)
        clips = sorted(p for p in (sample / word).glob("*.wav") if f"{word}/{p.name}" not in listed)
        for clip in clips[:2]:
            (root / word / clip.name).symlink_to(clip)
    for name in ("validation_list.txt", "testing_list.txt"):
        (root / name).symlink_to(sample / name)
    return root


def test_fsdd_loso_recipe_nested_validation(tmp_path, fsdd_three_speakers, shared_data):
    """Two folds of nested leave-one-speaker-out: the TDNNs start from ones pretrained on
    another corpus and hear extra voices (Speech Commands digits), the validation speaker is
    neither the test speaker nor in training, the weights and the online own exemplars come from
    him, and the final system is scored on the test speaker one utterance at a time, online and
    in batch."""
    recipe = copy_recipe(tmp_path, "fsdd")
    pretrain = tiny_arabic_speech_commands(shared_data, tmp_path / "asc")
    extra = tiny_speech_commands_digits(shared_data, tmp_path / "sc")
    config = tiny_config(tmp_path, cmvn="speaker")
    logmel = tiny_config(tmp_path, kind="logmel", cmvn="speaker")
    for path in (config, logmel):
        conf = yaml.safe_load(path.read_text())
        conf["train"]["online_history"] = 3
        path.write_text(yaml.safe_dump(conf))
    args = ["--data-dir", fsdd_three_speakers, "--config", config, "--logmel-config", logmel,
            "--speakers", "george,jackson", "--eval-speeds", "1", "--order-seed", "3",
            "--pretrain-data", pretrain, "--pretrain-epochs", 1, "--nn1-priors", "30,100",
            "--extra-voices", extra, "--own-exemplars", "1,2"]
    result = run_recipe(recipe, *args, cwd=tmp_path, script="loso.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    exp = recipe / "exp"
    for system in ("train", "train_logmel"):  # pretrained on the other corpus, 1 epoch
        pretrained = json.loads((exp / "pretrain" / system / "results.json").read_text())
        assert pretrained["epochs"] == 1 and pretrained["data_dir"].endswith("data/pretrain")
    speakers = {"george": "jackson", "jackson": "lucas"}      # held out -> validation
    experts = ["dtw1nn", "train", "train_logmel"]
    for s, v in speakers.items():
        parts = {name: [json.loads(line) for line in
                        (recipe / "data" / f"si_{s}" / "select" / f"{name}.jsonl").open()]
                 for name in ("train", "valid", "test")}
        assert {row["speaker"] for row in parts["test"]} == {s}
        assert {row["speaker"] for row in parts["valid"]} == {v}
        fsdd = {row["speaker"] for row in parts["train"] if "/" not in row["id"]}
        assert fsdd == {"george", "jackson", "lucas"} - {s, v}
        extra_rows = [row for row in parts["train"] if "/" in row["id"]]  # Speech Commands ids
        assert sorted(row["word"] for row in extra_rows) == ["0", "0", "1", "1", "7", "7"]
        assert all((exp / f"si_{s}" / ".done" / f"loso-stage{n}").is_file() for n in range(1, 8))
        # the final TDNNs: retrained with V for the epochs chosen on V
        final = [json.loads(line) for line in
                 (recipe / "data" / f"si_{s}" / "final" / "train.jsonl").open()]
        assert ({row["speaker"] for row in final if "/" not in row["id"]}
                == {"george", "jackson", "lucas"} - {s})
        assert sum("/" in row["id"] for row in final) == 6
        trained = yaml.safe_load((exp / f"si_{s}" / "final" / "train" / "config.yaml")
                                 .read_text())
        for part, system in (("select", "train"), ("select", "train_logmel"),
                             ("final", "train")):
            started = yaml.safe_load((exp / f"si_{s}" / part / system / "config.yaml")
                                     .read_text())["train"]["init_encoder"]
            assert Path(started).resolve() == (exp / "pretrain" / system).resolve()
        best = json.loads((exp / f"si_{s}" / "select" / "train" / "results.json").read_text())
        assert trained["train"]["epochs"] == max(1, best["valid"]["best_epoch"])
        prior = json.loads((exp / f"si_{s}" / "select" / "dtw1nn_prior.json").read_text())
        tried = {p: json.loads((exp / f"si_{s}" / "select" / f"dtw1nn_prior{p}" / "valid"
                                / "valid-eval.json").read_text())["accuracy"] for p in (30, 100)}
        assert prior["prior_frames"] in tried and prior["validation_speaker"] == v
        assert prior["validation_accuracy"] == max(tried.values())
        for part in ("select", "final"):
            nn1 = yaml.safe_load((exp / f"si_{s}" / part / "dtw1nn" / "config.yaml").read_text())
            assert nn1["train"]["prior_frames"] == prior["prior_frames"]
        choice = json.loads((exp / f"si_{s}" / "select" / "choice.json").read_text())
        assert choice["validation_speakers"] == [v] and len(choice["weights"]) == 3
        assert choice["manifest"].endswith(f"si_{s}/select/valid.jsonl")
        online = choice["online"]  # the own exemplars, chosen on V met online
        assert online["order_seed"] == 3 and len(online["tried"]) == 2 * (1 + 2 * 3)
        assert online["accuracy"] == max(t["accuracy"] for t in online["tried"])
        assert online["plain_accuracy"] == online["tried"][0]["accuracy"]
        modes = {name: json.loads((exp / f"si_{s}" / name / "eval.json").read_text())
                 for name in ("online", "online_state", "online_cmvn", "batch")}
        assert modes["online_state"]["own_exemplars"] == online["own_exemplars"]
        assert modes["online_state"]["cmvn_state"] == online["cmvn_state"]
        assert modes["online_cmvn"]["own_exemplars"] is None
        assert modes["online"]["mode"] == "strict" and modes["online_state"]["mode"] == "online"
        assert modes["online_cmvn"]["mode"] == "online"
        assert modes["batch"]["mode"] == "batch" and modes["online_state"]["order_seed"] == 3
        assert all(m["weights"] == choice["weights"] and m["checkpoint"] == "last"
                   and m["experiments"][0] == f"exp/si_{s}/final/train" for m in modes.values())
        assert all(m["speeds"] == [1.0] and m["num_utterances"] == 30
                   for m in modes.values())
        assert 0 <= modes["online"]["accuracy"] <= 1
        for name in experts:
            alone = json.loads((exp / f"si_{s}" / "strict" / name / "eval.json").read_text())
            assert alone["mode"] == "strict"
    summary = json.loads((exp / "loso" / "summary.json").read_text())
    table = (exp / "loso" / "summary.md").read_text()
    assert table in result.stdout
    strict = [json.loads((exp / f"si_{s}" / "online" / "eval.json").read_text())["accuracy"]
              for s in speakers]
    assert summary["mean"]["strict"]["accuracy"] == pytest.approx(sum(strict) / 2)
    assert "| mean | " in table and summary["choices"]["george"]["weights"]
    assert summary["choices"]["george"]["nn1_prior_frames"] in (30, 100)
    rerun = run_recipe(recipe, *args, cwd=tmp_path, script="loso.sh")
    assert rerun.returncode == 0 and rerun.stdout.count("skipped") == 2 * 7 + 1

    # --retrain false: the experts trained without V are the final ones
    again = run_recipe(recipe, *args, "--speakers", "george", "--retrain", "false",
                       "--stage", 7, cwd=tmp_path, script="loso.sh")
    assert again.returncode == 0, again.stdout + again.stderr
    scored = json.loads((exp / "si_george" / "online" / "eval.json").read_text())
    assert scored["experiments"][0] == "exp/si_george/select/train"
    assert scored["checkpoint"] == "best"


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


def test_folder_recipe_stages(tmp_path, speech_commands_dir, shared_data):
    """Every stage, with a TDNN pretrained on another corpus and the exemplar expert's weight
    chosen on the validation speakers."""
    corpus = tmp_path / "corpus"
    for word in ("yes", "no", "up"):
        (corpus / word).mkdir(parents=True)
        for wav in sorted((speech_commands_dir / word).glob("*.wav")):
            (corpus / word / wav.name).symlink_to(wav)
    recipe = copy_recipe(tmp_path, "folder")
    config = tiny_config(tmp_path, sample_rate=16000)
    pretrain = tiny_arabic_speech_commands(shared_data, tmp_path / "asc")
    result = run_recipe(recipe, corpus, "--config", config, "--test-fraction", "0.3",
                        "--pretrain-data", pretrain, "--pretrain-epochs", 1, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    exp, data = recipe / "exp" / "corpus", recipe / "data" / "corpus"
    assert json.loads((exp / "pretrain" / "results.json").read_text())["epochs"] == 1
    started = yaml.safe_load((exp / "train" / "config.yaml").read_text())["train"]
    assert Path(started["init_encoder"]).resolve() == (exp / "pretrain").resolve()
    weights = json.loads((exp / "weights.json").read_text())
    assert weights["manifest"].endswith("valid.jsonl") and len(weights["weights"]) == 2
    speakers = {
        split: {json.loads(line)["speaker"] for line in (data / f"{split}.jsonl").open()}
        for split in ("train", "valid", "test")
    }
    assert speakers["test"] and not speakers["test"] & (speakers["train"] | speakers["valid"])
    for path in [exp / "train" / "results.json", exp / "eval.txt", exp / "align.png",
                 exp / "exemplars" / "results.json", exp / "eval-trained.txt",
                 exp / "blend" / "eval.json"]:
        assert path.is_file() and path.stat().st_size > 0, path
    blend = json.loads((exp / "blend" / "eval.json").read_text())
    assert len(blend["experiments"]) == 2  # trained recognizer times the exemplars
    assert blend["weights"] == weights["weights"]


def test_recipes_reject_bad_arguments(tmp_path):
    for recipe, script, args in [
        ("fsdd", "run.sh", ["--bogus"]), ("speech_commands", "run.sh", ["--task", "7"]),
        ("folder", "run.sh", []), ("fsdd", "loso.sh", ["--data-dir", tmp_path / "nowhere"]),
        ("fsdd", "loso.sh", ["--speakers", ","]), ("fsdd", "run.sh", ["--stage"]),
        ("speech_commands", "run.sh", ["--config"]), ("folder", "run.sh", [tmp_path, "--tag"]),
    ]:
        result = run_recipe(REPO / "recipes" / recipe, *args, cwd=tmp_path, script=script)
        assert result.returncode == 2, (recipe, script, result.stderr)
        assert result.stderr.count("\n") == 1
