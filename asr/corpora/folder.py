"""Any corpus laid out as ``<word>/<file>.{wav,flac,ogg,aiff,au,mp3}``, split by speaker.

The speaker is read from each file name (without extension) by a regular expression: its first
group if it has one, else the whole match (default: the text before the first ``_``). Test
speakers are given, or drawn deterministically (speakers ordered by the SHA-1 of their name,
the first ``round(test_fraction * n)`` taken); validation speakers are drawn the same way among
the others. No speaker is in two parts.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from asr.corpora.manifest import Utterance, audio_duration
from asr.corpora.splits import count_of, parse_list
from asr.errors import ConfigError, DataError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".au", ".mp3")
DEFAULT_SPEAKER_REGEX = r"^([^_]+)_"


def _hash_order(speakers) -> list[str]:
    return sorted(speakers, key=lambda s: (hashlib.sha1(s.encode()).hexdigest(), s))


def scan(
    data_dir: str | os.PathLike, speaker_regex: str = DEFAULT_SPEAKER_REGEX
) -> list[Utterance]:
    """Every ``<word>/<file>`` audio file of ``data_dir`` with its speaker."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: no such directory (folder-layout data dir)")
    try:
        regex = re.compile(speaker_regex)
    except re.error as exc:
        raise ConfigError(f"--speaker-regex '{speaker_regex}': not a regular expression ({exc})") \
            from None
    utts = []
    words = [p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
    for d in sorted(words):
        for path in sorted(p for p in d.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
            m = regex.search(path.stem)
            if m is None:
                raise DataError(f"{path}: speaker regex '{speaker_regex}' does not match the "
                                "file name")
            speaker = m.group(1) if regex.groups else m.group(0)
            utts.append(Utterance(id=f"{d.name}/{path.stem}", path=path, word=d.name,
                                  speaker=speaker, duration=audio_duration(path)))
    if not utts:
        raise DataError(f"{data_dir}: not a <word>/<file>.wav layout (no audio file "
                        f"({', '.join(AUDIO_SUFFIXES)}) in any sub-folder)")
    return utts


def split(
    utts: list[Utterance],
    test_speakers: str | list[str] | None = None,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
) -> dict[str, list[Utterance]]:
    """Speaker-disjoint train/valid/test lists."""
    speakers = sorted({u.speaker for u in utts})
    chosen = parse_list(test_speakers)
    unknown = sorted(set(chosen) - set(speakers))
    if unknown:
        raise DataError(f"--test-speakers: unknown speaker(s) {', '.join(unknown)} "
                        f"(speakers found: {', '.join(speakers)})")
    if len(speakers) < 2:
        raise DataError(f"only one speaker ({speakers[0]}) found: a speaker-disjoint split needs "
                        "at least two (check --speaker-regex)")
    if chosen:
        if set(chosen) == set(speakers):
            raise DataError("--test-speakers: every speaker is a test speaker; "
                            "at least one must be left for training")
        test = set(chosen)
    else:
        n_test = count_of(test_fraction, len(speakers), name="--test-fraction")
        test = set(_hash_order(speakers)[:n_test])
    rest = [s for s in speakers if s not in test]
    n_valid = count_of(valid_fraction, len(rest), name="--valid-fraction")
    valid = set(_hash_order(rest)[:n_valid])
    return {
        "train": [u for u in utts if u.speaker not in test and u.speaker not in valid],
        "valid": [u for u in utts if u.speaker in valid],
        "test": [u for u in utts if u.speaker in test],
    }


def prepare(
    data_dir: str | os.PathLike,
    speaker_regex: str = DEFAULT_SPEAKER_REGEX,
    test_speakers: str | list[str] | None = None,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
) -> dict[str, list[Utterance]]:
    """Scan a ``<word>/<file>`` folder and split it by speaker."""
    return split(scan(data_dir, speaker_regex), test_speakers, test_fraction, valid_fraction)
