"""Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{take}.wav``, 8 kHz mono.

Standard split (the corpus's README): takes 0-4 test, takes 5 and up train. The validation part
is carved out of train by take (the highest takes), so valid and train never share a take and
no test take leaks. With ``test_speakers``, the split is speaker-independent instead: every
utterance of those speakers is in test, all the others' are in train/valid. With
``valid_speakers`` too, validation is speaker-independent as well: every utterance of those
speakers is in valid, so that settings are chosen on a voice the model never heard (nested
leave-one-speaker-out), never on the test speakers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from asr.corpora.manifest import Utterance, audio_duration
from asr.corpora.splits import count_of, parse_list
from asr.errors import DataError

NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[^_]+)_(?P<take>\d+)\.wav$")
TEST_TAKES = range(0, 5)


def recordings_dir(data_dir: str | os.PathLike) -> Path:
    """The folder holding the wav files: ``DATA_DIR/recordings`` or ``DATA_DIR`` itself."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such directory (FSDD data dir)")
    for folder in (data_dir / "recordings", data_dir):
        if folder.is_dir() and any(NAME.match(p.name) for p in folder.iterdir()):
            return folder
    raise DataError(
        f"{data_dir}: not an FSDD layout (no {{digit}}_{{speaker}}_{{take}}.wav files in it "
        f"or in its recordings/ folder)"
    )


def scan(data_dir: str | os.PathLike) -> list[tuple[Utterance, int]]:
    """Every FSDD recording under ``data_dir`` as ``(utterance, take)``, sorted by id."""
    folder = recordings_dir(data_dir)
    found = []
    for path in sorted(folder.iterdir()):
        m = NAME.match(path.name)
        if m is None:
            continue
        utt = Utterance(id=path.stem, path=path, word=m["digit"], speaker=m["speaker"],
                        duration=audio_duration(path))
        found.append((utt, int(m["take"])))
    return found


def split(
    found: list[tuple[Utterance, int]],
    test_speakers: str | list[str] | None = None,
    valid_fraction: float = 0.1,
    valid_speakers: str | list[str] | None = None,
) -> dict[str, list[Utterance]]:
    """Train/valid/test lists (see the module docstring for the rules)."""
    speakers = sorted({u.speaker for u, _ in found})
    chosen = parse_list(test_speakers)
    held = parse_list(valid_speakers)
    for option, names in (("--test-speakers", chosen), ("--valid-speakers", held)):
        unknown = sorted(set(names) - set(speakers))
        if unknown:
            raise DataError(f"{option}: unknown FSDD speaker(s) {', '.join(unknown)} "
                            f"(speakers found: {', '.join(speakers)})")
    if held and not chosen:
        raise DataError("--valid-speakers: needs --test-speakers (a speaker-independent split)")
    if set(chosen) & set(held):
        raise DataError(f"--valid-speakers: {', '.join(sorted(set(chosen) & set(held)))} "
                        "is also a test speaker")
    if chosen and set(chosen) | set(held) == set(speakers):
        raise DataError(f"--test-speakers/--valid-speakers: {', '.join(chosen + held)} is "
                        "every speaker; at least one must be left for training")
    if held:
        return {
            "train": [u for u, _ in found if u.speaker not in chosen + held],
            "valid": [u for u, _ in found if u.speaker in held],
            "test": [u for u, _ in found if u.speaker in chosen],
        }
    if chosen:
        test = [(u, t) for u, t in found if u.speaker in chosen]
        pool = [(u, t) for u, t in found if u.speaker not in chosen]
    else:
        test = [(u, t) for u, t in found if t in TEST_TAKES]
        pool = [(u, t) for u, t in found if t not in TEST_TAKES]
    if not pool:
        raise DataError("FSDD: no recording left for training (only test takes 0-4 found)")
    takes = sorted({t for _, t in pool})
    n_valid = count_of(valid_fraction, len(takes), name="--valid-fraction")
    valid_takes = set(takes[len(takes) - n_valid:]) if n_valid else set()
    return {
        "train": [u for u, t in pool if t not in valid_takes],
        "valid": [u for u, t in pool if t in valid_takes],
        "test": [u for u, _ in test],
    }


def prepare(
    data_dir: str | os.PathLike,
    test_speakers: str | list[str] | None = None,
    valid_fraction: float = 0.1,
    valid_speakers: str | list[str] | None = None,
) -> dict[str, list[Utterance]]:
    """Scan an FSDD folder and split it; see :func:`split`."""
    return split(scan(data_dir), test_speakers=test_speakers, valid_fraction=valid_fraction,
                 valid_speakers=valid_speakers)
