"""Shared fixtures: where the read-only corpora live (``../shared/data`` beside the repo)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ASR_SHARED_DATA", REPO.parent / "shared" / "data"))


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
