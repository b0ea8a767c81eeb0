r"""Keyword manifests with a filler class: non-keyword speech to train against.

A spotter meets speech that is none of its words; a recognizer trained on its words alone has
never been told what they are *not*, so other speech lands near its templates. Adding clips of
other speech as one more class, the filler ``<filler>`` (:func:`asr.spotting.engine.is_filler`:
trained like any word, never spotted), lets the training loss push every keyword's energy up on
them and shape G_W's output so that keywords and other speech lie apart.

From a folder of keyword manifests and a manifest of non-keyword clips (e.g. the *train*
speakers of another corpus), :func:`with_fillers` draws, without replacement and from one seed,
``train`` clips into the training list and ``valid`` others into the validation list, relabelled
``word`` (ids prefixed with ``filler/``); the test list is the keywords' as it is. The filler
corpus's validation and test speakers stay out of training: calibration negatives and test
streams take their non-keyword speech from them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from asr.corpora.manifest import Utterance
from asr.errors import DataError

FILLER = "<filler>"


def with_fillers(splits: dict[str, list[Utterance]], fillers: list[Utterance], train: int,
                 valid: int, seed: int = 0, word: str = FILLER) -> dict[str, list[Utterance]]:
    """The keyword ``splits`` (train/valid/test lists) with ``train`` and ``valid`` filler
    clips added to their training and validation lists (see the module docstring).

    Examples
    --------
    >>> from pathlib import Path
    >>> u = lambda i, w: Utterance(f"{w}{i}", Path(f"{w}{i}.wav"), w, "s", 1.0)
    >>> out = with_fillers({"train": [u(0, "1")], "valid": [u(1, "1")], "test": []},
    ...                    [u(i, "tak") for i in range(5)], train=3, valid=1)
    >>> [len(out[s]) for s in ("train", "valid", "test")], out["train"][-1].word
    ([4, 2, 0], '<filler>')
    """
    if train < 1 or valid < 0:
        raise DataError(f"filler clips: train must be >= 1 and valid >= 0, got {train}, {valid}")
    if train + valid > len(fillers):
        raise DataError(f"asked for {train} + {valid} filler clips, the filler manifest has "
                        f"{len(fillers)}")
    clash = sorted({u.word for s in splits.values() for u in s} & {word})
    if clash:
        raise DataError(f"the keyword manifests already have the word {word!r}")
    order = np.random.default_rng(seed).permutation(len(fillers))

    def relabel(i):
        u = fillers[int(i)]
        return dataclasses.replace(u, id=f"filler/{u.id}", word=word)

    out = {name: list(utts) for name, utts in splits.items()}
    out["train"] = out.get("train", []) + [relabel(i) for i in order[:train]]
    out["valid"] = out.get("valid", []) + [relabel(i) for i in order[train:train + valid]]
    out.setdefault("test", [])
    return out
