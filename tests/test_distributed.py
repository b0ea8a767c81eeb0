"""Data-parallel training: 2 processes (`asr train --nproc 2`: torchrun, gloo) train the same
model as 1 process with the same seed and global batch, up to float rounding; only rank 0
writes; results.json records the world size and the backend."""

import json
import os
import subprocess
import sys

import pytest
import torch
from test_train import SMALL, make_data

from asr.checkpoint import load_checkpoint
from asr.training.distributed import Context, torchrun_command

ARGS = [*SMALL, "train.epochs=2", "model.dropout=0.0", "train.prune_words=1",
        "train.prune_full_every=2"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, fsdd_dir):
    """3 digits x 5 speakers x 3 takes (45 clips: global batches of 16, 16, 13)."""
    return make_data(tmp_path_factory.mktemp("tiny"), fsdd_dir, ["0", "1", "7"],
                     range(10, 13), range(5, 7), range(0, 2))


def _run(command, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_two_processes_train_the_same_model_as_one(tiny, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    train = ["train", "--data", str(tiny), "--quiet"]
    _run([sys.executable, "-m", "asr", *train, "--exp", str(one), *ARGS], tmp_path)
    _run([sys.executable, "-m", "asr", *train, "--nproc", "2", "--exp", str(two), *ARGS],
         tmp_path)  # starts torchrun --standalone --nproc-per-node=2 -m asr train ...
    a, b = load_checkpoint(one / "last.pt"), load_checkpoint(two / "last.pt")
    assert a["epoch"] == b["epoch"] == 2
    for key, value in a["model_state"].items():
        assert torch.allclose(value, b["model_state"][key], rtol=1e-4, atol=1e-5), key
    assert torch.allclose(a["pruner"], b["pruner"], rtol=1e-4, atol=1e-4)
    for ra, rb in zip(a["history"], b["history"], strict=True):
        assert ra["valid_accuracy"] == pytest.approx(rb["valid_accuracy"])
        if ra["train_loss"] is not None:
            assert ra["train_loss"] == pytest.approx(rb["train_loss"], rel=1e-4)
    results = json.loads((two / "results.json").read_text())
    assert results["world_size"] == 2 and results["backend"] == "gloo"
    assert json.loads((one / "results.json").read_text())["world_size"] == 1
    assert len((two / "metrics.jsonl").read_text().splitlines()) == 3  # one writer


def test_single_process_context_changes_nothing():
    ctx = Context()
    assert not ctx.distributed and ctx.is_main and ctx.shard([1, 2, 3]) == [1, 2, 3]
    rows = torch.ones(2, 3)
    assert ctx.sum_rows(rows) is rows and ctx.broadcast_flag(True)
    assert Context(rank=1, world_size=3, backend="gloo").shard(list(range(8))) == [1, 4, 7]
    command = torchrun_command(2, ["train", "--data", "d"])
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone",
                            "--nproc-per-node=2"] and command[-4:] == ["asr", "train", "--data",
                                                                       "d"]
