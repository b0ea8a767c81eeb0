"""Live spotting: 16-bit PCM from stdin or a microphone, fed chunk by chunk to the engine.

The engine (:class:`asr.spotting.engine.Spotter`) works on a fixed block schedule, so the hits
of a live stream are exactly those of ``asr spot`` on a recording of it; memory and work per
second of audio stay bounded (the trellis keeps one row per template, the buffers a few
blocks). A hit is printed as soon as it is decided (see the engine for the delay).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from asr.errors import AsrError

INT16 = 32768.0


def stdin_chunks(stream, chunk_samples: int) -> Iterator[np.ndarray]:
    """Float samples from raw little-endian 16-bit mono PCM, ``chunk_samples`` at a time (a
    read may return less; an odd trailing byte is kept for the next read)."""
    pending = b""
    while True:
        data = stream.read(2 * chunk_samples)
        if not data:
            break
        data = pending + data
        usable = len(data) // 2 * 2
        pending = data[usable:]
        if usable:
            yield np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / INT16


def microphone_chunks(sample_rate: int, chunk_samples: int, device=None) -> Iterator[np.ndarray]:
    """Float samples from the default (or given) input device via ``sounddevice``."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise AsrError(f"the microphone needs the optional package sounddevice "
                       f"(pip install 'asr[listen]' or pip install sounddevice), or use "
                       f"--stdin ({type(exc).__name__})") from None
    try:
        with sounddevice.InputStream(samplerate=sample_rate, channels=1, dtype="int16",
                                     blocksize=chunk_samples, device=device) as mic:
            while True:
                data, _ = mic.read(chunk_samples)
                yield data[:, 0].astype(np.float32) / INT16
    except sounddevice.PortAudioError as exc:
        raise AsrError(f"microphone: {exc}") from None


def listen(spotter, chunks: Iterable[np.ndarray], emit: Callable) -> int:
    """Feed ``chunks`` to ``spotter``, calling ``emit(hit)`` for each hit as it is decided;
    returns the number of hits."""
    count = 0
    for chunk in chunks:
        for hit in spotter.push(chunk):
            emit(hit)
            count += 1
    for hit in spotter.flush():
        emit(hit)
        count += 1
    return count


def default_stdin():
    """The binary standard input."""
    return sys.stdin.buffer
