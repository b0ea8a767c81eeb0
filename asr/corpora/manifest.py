"""Manifests: one utterance per line of JSONL, ``{"id", "path", "word", "speaker", "duration"}``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from asr.errors import AudioError, DataError
from asr.files import write_atomically

KEYS = ("id", "path", "word", "speaker", "duration")


@dataclass(frozen=True)
class Utterance:
    """One recorded word.

    Attributes
    ----------
    id : str
        Unique within a corpus (e.g. ``"3_jackson_12"``).
    path : pathlib.Path
        The audio file (absolute once read from a manifest).
    word : str
        The label.
    speaker : str
        Who said it.
    duration : float
        Length in seconds of the file as stored (before trimming).
    """

    id: str
    path: Path
    word: str
    speaker: str
    duration: float


def audio_duration(path: str | os.PathLike) -> float:
    """Duration (s) from the file header; AudioError if soundfile cannot read it."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        reason = " ".join(str(exc).split())
        raise AudioError(f"{path}: not a readable audio file (soundfile: {reason})") from None
    return info.frames / info.samplerate


def read_manifest(path: str | os.PathLike, allow_empty: bool = False) -> list[Utterance]:
    """Read a JSONL manifest; relative audio paths are resolved against the manifest's folder.

    Raises
    ------
    DataError
        Missing file, a line that is not a JSON object with the five keys, a duplicate id, or
        no utterance at all (unless ``allow_empty``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such manifest file")
    base = Path(os.path.abspath(path)).parent
    utterances, seen = [], set()
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise DataError(f"{where}: not valid JSON (a manifest is JSON lines)") from None
            if not isinstance(row, dict):
                raise DataError(f"{where}: not a JSON object with keys {', '.join(KEYS)}")
            missing = [k for k in KEYS if k not in row]
            if missing:
                raise DataError(f"{where}: missing key(s) {', '.join(missing)} "
                                f"(each line needs {', '.join(KEYS)})")
            try:
                duration = float(row["duration"])
            except (TypeError, ValueError):
                raise DataError(f"{where}: duration {row['duration']!r} is not a number") from None
            uid = str(row["id"])
            if uid in seen:
                raise DataError(f"{where}: duplicate utterance id {uid!r}")
            seen.add(uid)
            audio = Path(row["path"])
            utterances.append(Utterance(
                id=uid, path=audio if audio.is_absolute() else base / audio,
                word=str(row["word"]), speaker=str(row["speaker"]), duration=duration,
            ))
    if not utterances and not allow_empty:
        raise DataError(f"{path}: empty manifest (no utterances)")
    return utterances


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> None:
    """Write a JSONL manifest atomically (temporary file then rename).

    Audio paths inside the manifest's folder are written relative to it; others absolute.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = Path(os.path.abspath(path)).parent
    lines = []
    for u in utterances:
        audio = Path(os.path.abspath(u.path))
        stored = audio.relative_to(base) if audio.is_relative_to(base) else audio
        row = {"id": u.id, "path": stored.as_posix(), "word": u.word, "speaker": u.speaker,
               "duration": round(float(u.duration), 6)}
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    write_atomically(path, lambda handle: handle.writelines(lines), "w")
