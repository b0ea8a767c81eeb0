"""Arabic Speech Commands: 40 keywords x 30 speakers x 10 takes, 1 s, 16 kHz.

Ghandoura, Hjabo and Al Dakkak, "Building and Benchmarking an Arabic Speech Commands Dataset for
Small-Footprint Keyword Spotting", Engineering Applications of Artificial Intelligence, 2021;
github.com/abdulkaderghandoura/arabic-speech-commands-dataset (CC BY 4.0).

Two layouts are read:

* the original download: ``[dataset/]<word>/<speaker>_NO_<take>.wav`` with folder names holding
  spaces (``zoom in``) and the official split in ``train.csv``, ``val.csv``, ``test.csv`` beside
  the word folders (or one level up); each CSV row names a clip by a path ending in
  ``<word>/<file>``;
* a copy without CSVs (such as ``../shared/data/arabic_speech_commands``:
  ``<word>/<speaker>_NO_<take>.flac``, spaces replaced by ``_``), split by the official speaker
  lists below.

The speaker is the first eight digits of the file name. Word labels have spaces replaced by
``_`` in both layouts (``zoom in`` -> ``zoom_in``), so a model trained on one layout scores the
other. The official split is speaker-disjoint, 18 / 6 / 6 speakers (60/20/20).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from asr.corpora.manifest import Utterance, audio_duration
from asr.errors import DataError

NAME = re.compile(r"^(?P<speaker>\d{8})_NO_(?P<take>\d+)$")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
CSVS = {"train": "train.csv", "valid": "val.csv", "test": "test.csv"}

# The official speaker-disjoint split: train.csv / val.csv / test.csv of the corpus repository
# (commit 72f3438), as listed in ../shared/data/arabic_speech_commands/README.md.
OFFICIAL_SPEAKERS = {
    "train": ("00000001", "00000005", "00000006", "00000009", "00000011", "00000013", "00000015",
              "00000016", "00000017", "00000018", "00000019", "00000020", "00000022", "00000023",
              "00000024", "00000027", "00000029", "00000030"),
    "valid": ("00000002", "00000007", "00000008", "00000012", "00000021", "00000025"),
    "test": ("00000003", "00000004", "00000010", "00000014", "00000026", "00000028"),
}


def label(folder: str) -> str:
    """The word label of a folder name: spaces become ``_`` (``"zoom in"`` -> ``"zoom_in"``)."""
    return "_".join(folder.split())


def _is_clip(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and NAME.match(path.stem) is not None


def find_root(data_dir: str | os.PathLike) -> Path:
    """The folder holding the word folders: ``DATA_DIR/dataset`` or ``DATA_DIR`` itself."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such directory (Arabic Speech Commands data dir)")
    for root in (data_dir / "dataset", data_dir):
        if root.is_dir() and word_dirs(root):
            return root
    raise DataError(f"{data_dir}: not an Arabic Speech Commands layout (no <word>/"
                    "<speaker>_NO_<take>.wav or .flac files in it or in its dataset/ folder)")


def word_dirs(root: Path) -> list[Path]:
    """Sub-folders of ``root`` holding at least one ``<speaker>_NO_<take>`` audio file."""
    return sorted(d for d in root.iterdir()
                  if d.is_dir() and not d.name.startswith((".", "_"))
                  and any(_is_clip(p) for p in d.iterdir()))


def scan(root: Path) -> list[Utterance]:
    """Every clip under ``root``'s word folders, sorted by word then file name."""
    utts = []
    for d in word_dirs(root):
        word = label(d.name)
        for path in sorted(p for p in d.iterdir() if _is_clip(p)):
            speaker = NAME.match(path.stem)["speaker"]
            utts.append(Utterance(id=f"{word}/{path.stem}", path=path, word=word,
                                  speaker=speaker, duration=audio_duration(path)))
    return utts


def _read_csv(path: Path) -> set[str]:
    """Clip keys ``<word label>/<file stem>`` named in one of the official CSVs.

    A row names its clip in its first cell that ends with an audio suffix; the last two path
    components are the word folder and the file. A header row (no such cell) is skipped.
    """
    keys = set()
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            cell = next((c for c in row if c.strip().lower().endswith(AUDIO_SUFFIXES)), None)
            if cell is None:
                continue
            parts = Path(cell.strip().replace("\\", "/")).parts
            if len(parts) < 2:
                raise DataError(f"{path}: row {row!r} does not name a <word>/<file> clip")
            keys.add(f"{label(parts[-2])}/{Path(parts[-1]).stem}")
    return keys


def _csv_dir(data_dir: Path, root: Path) -> Path | None:
    for folder in (root, data_dir, root.parent):
        if all((folder / name).is_file() for name in CSVS.values()):
            return folder
    return None


def prepare(data_dir: str | os.PathLike) -> dict[str, list[Utterance]]:
    """Train/valid/test lists by the official split (the CSVs if present, else the speakers).

    Returns
    -------
    dict
        ``{"train", "valid", "test"}`` -> utterances. Without the official test speakers on
        disk (as in the shared copy), ``test`` is empty.

    Raises
    ------
    DataError
        Not this layout; a speaker outside the official lists; a clip in no CSV or in two.
    """
    data_dir = Path(data_dir)
    root = find_root(data_dir)
    utts = scan(root)
    splits: dict[str, list[Utterance]] = {name: [] for name in CSVS}
    csv_dir = _csv_dir(data_dir, root)
    if csv_dir is not None:
        listed = {name: _read_csv(csv_dir / fname) for name, fname in CSVS.items()}
        for u in utts:
            parts = [name for name, keys in listed.items() if u.id in keys]
            if len(parts) != 1:
                where = "no official CSV" if not parts else f"{' and '.join(parts)} CSVs"
                raise DataError(f"{u.path}: listed in {where} ({csv_dir})")
            splits[parts[0]].append(u)
        return splits
    part_of = {s: name for name, speakers in OFFICIAL_SPEAKERS.items() for s in speakers}
    for u in utts:
        if u.speaker not in part_of:
            raise DataError(f"{u.path}: speaker {u.speaker} is in none of the official "
                            "train/validation/test speaker lists")
        splits[part_of[u.speaker]].append(u)
    return splits
