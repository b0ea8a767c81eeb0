"""Checkpoints: atomic writes, safe loads only, self-describing payloads, one-line errors."""

import os
import pickle

import pytest
import torch

from asr.checkpoint import (
    load_checkpoint,
    load_recognizer,
    recognizer_payload,
    save_checkpoint,
)
from asr.config import Config, apply_overrides
from asr.errors import CheckpointError
from asr.model import Recognizer


def small_recognizer():
    torch.manual_seed(0)
    cfg = apply_overrides(Config(), ["model.tdnn_dims=[8]", "model.tdnn_contexts=[3]",
                                     "model.tdnn_dilations=[1]", "model.tdnn_strides=[1]",
                                     "model.embed_dim=4", "frontend.sample_rate=8000"])
    rec = Recognizer(["yes", "no"], cfg.frontend.dim, cfg.model, [3, 4], [0, 1])
    rec.set_templates([torch.randn(3, 4), torch.randn(4, 4)])
    return rec.eval(), cfg


def test_round_trip_rebuilds_the_recognizer_from_the_file_alone(tmp_path):
    rec, cfg = small_recognizer()
    save_checkpoint(tmp_path / "best.pt", recognizer_payload(rec, cfg))
    loaded, loaded_cfg = load_recognizer(tmp_path)
    assert loaded_cfg == cfg and loaded.words == ["yes", "no"] and not loaded.training
    x = [torch.randn(9, cfg.frontend.dim)]
    torch.testing.assert_close(loaded.energies(x), rec.energies(x))
    assert [t.shape for t in loaded.templates_of("no")] == [torch.Size([4, 4])]
    assert loaded.dtw_options == rec.dtw_options
    # plain data only: the strictest loader reads it
    torch.load(tmp_path / "best.pt", weights_only=True)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    rec, cfg = small_recognizer()
    path = tmp_path / "last.pt"
    save_checkpoint(path, recognizer_payload(rec, cfg))
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_checkpoint(path, {**recognizer_payload(rec, cfg), "epoch": 5})
    assert path.read_bytes() == before          # the old checkpoint survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


# the "pickle" case is a plain pickle (protocol 4): torch warns before refusing it, as it should
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "pickle", "foreign",
                                    "no-weights"])
def test_damaged_checkpoints_raise_one_line_checkpoint_error(tmp_path, damage):
    rec, cfg = small_recognizer()
    path = tmp_path / "best.pt"
    save_checkpoint(path, recognizer_payload(rec, cfg))
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a checkpoint" * 50)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "pickle":
        with open(path, "wb") as handle:
            pickle.dump(Evil(), handle)
    elif damage == "foreign":
        torch.save({"state_dict": rec.state_dict()}, path)
    else:
        payload = recognizer_payload(rec, cfg)
        payload["model_state"].pop("template_frames")
        save_checkpoint(path, payload)
    with pytest.raises(CheckpointError) as info:
        load_recognizer(tmp_path)
    message = str(info.value)
    assert "best.pt" in message and "\n" not in message


def test_missing_experiment_or_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="experiment directory not found"):
        load_recognizer(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="not found"):
        load_recognizer(tmp_path, which="last")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "x.pt")
