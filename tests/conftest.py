"""Shared fixtures: where the read-only corpora live (``../shared/data`` beside the repo), and a
local HTTP server on 127.0.0.1 for offline download tests. The longest tests run first, so that
with several workers (``make test``: pytest-xdist) none of them starts last and runs alone."""

import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from _support import Handler, fsdd_utterances

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ASR_SHARED_DATA", REPO.parent / "shared" / "data"))


# the tests that take a minute or more (whole recipes), longest first
LONGEST_FIRST = (
    "test_fsdd_loso_recipe_nested_validation",
    "test_fsdd_enroll_recipe",
    "test_arabic_speech_commands_recipe_stages",
    "test_folder_recipe_stages",
    "test_self_exemplars_fix_an_answer_from_the_speakers_confident_ones",
    "test_fsdd_recipe_stages",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # a stable sort: the other tests keep their order
    items.sort(key=lambda item: rank.get(getattr(item, "originalname", item.name), len(rank)))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA} (set ASR_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def fsdd_dir(shared_data) -> Path:
    return shared_data / "fsdd"


@pytest.fixture(scope="session")
def speech_commands_dir(shared_data) -> Path:
    return shared_data / "speech_commands_sample"


@pytest.fixture()
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.files, srv.requests, srv.mode = {}, [], "normal"
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


SPOT_WORDS = ("0", "1", "7")


@pytest.fixture(scope="session")
def tiny_spotter(tmp_path_factory, fsdd_dir):
    """A tiny TDNN recognizer of three digits (four speakers, a few epochs on real FSDD audio,
    front end without CMVN as recipes/fsdd/conf/spotting.yaml) for the enrollment and spotting
    tests; ``nicolas`` is held out. Returns the experiment directory (copy it to change it)."""

    from asr.config import apply_overrides, load_config
    from asr.corpora import write_manifest
    from asr.train import train

    def subset(speakers, takes):
        return fsdd_utterances(fsdd_dir / "recordings", SPOT_WORDS, speakers, takes)

    root = tmp_path_factory.mktemp("tiny-spotter")
    speakers = ("george", "jackson", "lucas", "yweweler")
    write_manifest(root / "data" / "train.jsonl", subset(speakers, range(5, 20)))
    write_manifest(root / "data" / "valid.jsonl", subset(speakers, range(45, 47)))
    write_manifest(root / "data" / "test.jsonl", subset(speakers, range(0, 2)))
    config = apply_overrides(load_config(REPO / "recipes" / "fsdd" / "conf" / "spotting.yaml"), [
        "model.tdnn_dims=[48,48]", "model.tdnn_contexts=[3,3]", "model.tdnn_dilations=[1,2]",
        "model.tdnn_strides=[1,2]", "model.embed_dim=24", "model.templates_per_speaker=1",
        "train.epochs=4", "train.batch_size=16", "train.threads=1", "train.jobs=1",
        "train.noise_prob=0.0"])
    train(root / "data", root / "exp", config, progress=False)
    return root / "exp"
