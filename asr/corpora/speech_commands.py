"""Speech Commands (v0.01 / v0.02): ``<word>/<speaker>_nohash_<n>.wav``, 1 s, 16 kHz.

The split is the corpus's own: clips listed in ``validation_list.txt`` are valid, those in
``testing_list.txt`` test, all others train (the lists were drawn by hashing the speaker id, so
the three parts share no speaker). ``_background_noise_`` (and any folder starting with ``_``)
holds noise, not a word, and is skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from asr.corpora.manifest import Utterance, audio_duration
from asr.corpora.splits import parse_list
from asr.errors import DataError

NAME = re.compile(r"^(?P<speaker>[^_]+)_nohash_(?P<n>\d+)\.wav$")
LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise DataError(f"{path}: missing (Speech Commands needs validation_list.txt and "
                        "testing_list.txt beside the word folders)")
    with path.open(encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip()}


def word_dirs(data_dir: Path) -> list[Path]:
    """Folders of ``data_dir`` that hold ``<speaker>_nohash_<n>.wav`` files and do not start
    with ``_`` (``_background_noise_`` is noise, not a word)."""
    return sorted(
        d for d in data_dir.iterdir()
        if d.is_dir() and not d.name.startswith(("_", "."))
        and any(NAME.match(p.name) for p in d.glob("*.wav"))
    )


def prepare(
    data_dir: str | os.PathLike, words: str | list[str] | None = None
) -> dict[str, list[Utterance]]:
    """Train/valid/test lists of a Speech Commands folder, optionally restricted to ``words``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such directory (Speech Commands data dir)")
    dirs = word_dirs(data_dir)
    if not dirs:
        raise DataError(f"{data_dir}: not a Speech Commands layout "
                        "(no <word>/<speaker>_nohash_<n>.wav files)")
    wanted = parse_list(words)
    available = [d.name for d in dirs]
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise DataError(f"--words: unknown word(s) {', '.join(unknown)} "
                        f"(words in {data_dir}: {', '.join(available)})")
    if wanted:
        dirs = [d for d in dirs if d.name in wanted]
    listed = {name: _read_list(data_dir / fname) for name, fname in LISTS.items()}
    splits: dict[str, list[Utterance]] = {"train": [], "valid": [], "test": []}
    for d in dirs:
        for path in sorted(d.glob("*.wav")):
            m = NAME.match(path.name)
            if m is None:
                raise DataError(f"{path}: file name is not <speaker>_nohash_<n>.wav "
                                "(Speech Commands layout)")
            rel = f"{d.name}/{path.name}"
            part = next((name for name, names in listed.items() if rel in names), "train")
            splits[part].append(Utterance(id=rel[: -len(".wav")], path=path, word=d.name,
                                          speaker=m["speaker"], duration=audio_duration(path)))
    return splits
