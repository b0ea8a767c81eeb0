"""Shared fixtures: where the read-only corpora live (``../shared/data`` beside the repo), and a
local HTTP server on 127.0.0.1 for offline download tests."""

import os
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from _support import Handler

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
