r"""A speaker's online CMVN statistics, kept between calls of ``asr recognize --speaker NAME``.

The state of speaker ``NAME`` is one small JSON file, ``STATE_DIR/NAME.json``: for every
*stream* (a front end and a speed, :func:`stream_key`) the sum :math:`S` [D] and number
:math:`N` of the raw frames of the speaker's decided utterances (:mod:`asr.features.online`).
Statistics belong to the front end, not to an experiment, so every experiment with the same front
end shares them; the prior :math:`(\mu_0, \tau)` is the experiment's own and is never stored here.
The file is written atomically (temporary file in the same folder, then :func:`os.replace`)
after each decided file; two calls for the same speaker at the same time keep the later write.

With ``--own-exemplars K`` the speaker's own exemplars (:class:`asr.recognition.adapt.OwnExemplars`:
raw features of his most confidently answered earlier files, per word) are kept beside it in
``STATE_DIR/NAME.own.pt``, a dict of tensors and numbers read with ``torch.load(weights_only=True)``
(no pickled code), written atomically too; they belong to one front end and one vocabulary, and
start again when either changes.

The default folder is ``$XDG_CACHE_HOME/asr/speakers`` (``~/.cache/asr/speakers``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import torch

from asr.errors import AsrError
from asr.features.online import OnlineCmvn
from asr.files import write_atomically
from asr.recognition.adapt import OwnExemplars

FORMAT = "asr-speaker-state"
VERSION = 1
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


def default_state_dir() -> Path:
    """``$XDG_CACHE_HOME/asr/speakers``, or ``~/.cache/asr/speakers``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "asr" / "speakers"


def stream_key(frontend, speed: float = 1.0) -> str:
    """``"<16 hex digits of the front end's SHA-256>@<speed>"``: what a statistic is of."""
    blob = json.dumps(frontend.to_dict(), sort_keys=True).encode()
    return f"{hashlib.sha256(blob).hexdigest()[:16]}@{float(speed):g}"


class SpeakerState:
    """The online CMVN statistics of one speaker, per stream, and the file that keeps them.

    Parameters
    ----------
    name : str
        Speaker name: letters, digits and ``. _ @ + -``, not starting with a punctuation mark.
    path : Path, optional
        JSON file of the state (None: kept in memory only).
    """

    def __init__(self, name: str, path: Path | None = None):
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise AsrError(f"speaker name {name!r}: use letters, digits and . _ @ + - "
                           "(at most 128, starting with a letter or digit)")
        self.name = name
        self.path = path
        self.streams: dict[str, dict] = {}
        self.own: dict | None = None  # {"key", "words", "exemplars": OwnExemplars}

    @classmethod
    def load(cls, state_dir: str | os.PathLike, name: str, reset: bool = False) -> SpeakerState:
        """The state of ``name`` in ``state_dir`` (empty when there is none, or with ``reset``)."""
        state = cls(name)
        state.path = Path(state_dir) / f"{name}.json"
        if reset or not state.path.exists():
            return state
        try:
            data = json.loads(state.path.read_text())
            ok = (data.get("format") == FORMAT and data.get("version") == VERSION
                  and isinstance(data.get("streams"), dict)
                  and all(_valid_stream(v) for v in data["streams"].values()))
        except (OSError, ValueError, AttributeError) as exc:
            raise AsrError(f"{state.path}: unreadable speaker state ({exc}); "
                           "use --reset to start again") from None
        if not ok:
            raise AsrError(f"{state.path}: not an asr speaker state (version {VERSION}); "
                           "use --reset to start again")
        state.streams = data["streams"]
        state._load_own()
        return state

    @property
    def own_path(self) -> Path | None:
        """``NAME.own.pt`` beside the state file (None for an in-memory state)."""
        return None if self.path is None else self.path.with_name(f"{self.name}.own.pt")

    def _load_own(self) -> None:
        path = self.own_path
        if path is None or not path.exists():
            return
        try:
            data = torch.load(path, weights_only=True)
            self.own = {"key": str(data["key"]), "words": [str(w) for w in data["words"]],
                        "exemplars": OwnExemplars.from_dict(data["exemplars"])}
        except Exception as exc:  # noqa: BLE001 - any damage: one line, never a traceback
            raise AsrError(f"{path}: unreadable own exemplars ({str(exc).splitlines()[0]}); "
                           "use --reset to start again") from None

    def own_exemplars(self, key: str, words, per_word: int) -> OwnExemplars:
        """The speaker's own exemplars for stream ``key`` and vocabulary ``words``, kept at
        ``per_word`` per word (a new, empty set when the stream or vocabulary changed)."""
        words = list(words)
        if (self.own is None or self.own["key"] != key or self.own["words"] != words):
            self.own = {"key": key, "words": words,
                        "exemplars": OwnExemplars(len(words), per_word)}
        own = self.own["exemplars"]
        if own.per_word != per_word:
            own.per_word = int(per_word)
            for pool in own.pools:
                del pool[per_word:]
        return own

    def cmvn(self, key: str, prior_mean: torch.Tensor | None, prior_frames: float,
             include_current: bool = True) -> OnlineCmvn:
        """The speaker's :class:`OnlineCmvn` for one stream, with an experiment's prior."""
        stats = self.streams.get(key, {})
        return OnlineCmvn(prior_mean=prior_mean, prior_frames=prior_frames,
                          include_current=include_current, sum=stats.get("sum"),
                          frames=int(stats.get("frames", 0)),
                          utterances=int(stats.get("utterances", 0)))

    def update(self, key: str, features: torch.Tensor) -> None:
        """Add an utterance's raw frames [T, D] to the statistics of stream ``key``."""
        state = self.cmvn(key, None, 0.0)
        state.update(features)
        self.streams[key] = state.statistics()

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "speaker": self.name,
                "streams": self.streams}

    def save(self) -> None:
        """Write the state to its file atomically (no-op for an in-memory state)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.own is not None:
            own = {"key": self.own["key"], "words": self.own["words"],
                   "exemplars": self.own["exemplars"].to_dict()}
            write_atomically(self.own_path, lambda handle: torch.save(own, handle), "wb")
        write_atomically(self.path, lambda handle: json.dump(self.to_dict(), handle), "w")

    def remove(self) -> None:
        """Delete the state's files (``--reset``)."""
        for path in (self.path, self.own_path):
            if path is not None:
                path.unlink(missing_ok=True)


def _valid_stream(stats) -> bool:
    """Whether one stream's statistics are well formed: a list of numbers and counts >= 0."""
    if not isinstance(stats, dict):
        return False
    frames, total = stats.get("frames"), stats.get("sum")
    if not isinstance(frames, int) or frames < 0 or not isinstance(stats.get("utterances", 0),
                                                                    int):
        return False
    if total is None:
        return frames == 0
    return (isinstance(total, list) and len(total) > 0
            and all(isinstance(x, int | float) and x == x for x in total))
