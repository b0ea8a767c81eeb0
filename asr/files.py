"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never a part."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: str | Path, write, mode: str = "wb") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path`` (opened with ``mode``), flush
    and fsync it, make it readable by all (0644, as a plain ``open`` would under the usual
    umask), then rename it over ``path``. The temporary file is removed on any error, which is
    raised again; ``path``'s folder must exist."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
