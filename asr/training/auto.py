r"""``auto`` settings: model size, templates, regularization and epochs that follow the data.

A config field typed ``... | Auto`` may be ``"auto"``; :func:`resolve_auto` replaces every such
value, when training starts, by the rule below, computed from the training manifest alone
(never from validation or test speakers). The resolved config is what the experiment's
``config.yaml`` and checkpoints store, and :func:`resolve_auto` returns a record
``{"section.key": {"value": ..., "rule": "..."}}`` that ``results.json`` keeps under ``"auto"``.

The data are summarized by :math:`n`, the median number of training recordings per word,
:math:`N` the number of training recordings and :math:`W` the number of words. The rule:

- ``model.templates_per_word`` :math:`= \min(n, \max(4, \lceil n / 8 \rceil), 8)`: every
  exemplar a template while a word has at most 4 recordings (the trained model starts as the
  DTW 1-nearest-neighbour recognizer of its own front end), 4 up to 32 recordings, then one
  more per 8 recordings, at most 8 (each template costs one DTW per utterance);
- ``model.tdnn_dims`` :math:`= [h, h, h]` with :math:`h = 128` when :math:`N < 1000`, else 256
  (the number of weights grows with the data; three layers as ``tdnn_contexts`` asks for);
- ``model.embed_dim`` :math:`= 64`;
- ``model.dropout`` :math:`= 0.2` when :math:`n < 50`, else 0.1;
- ``train.weight_decay`` :math:`= 0.01` when :math:`n < 50`, else 0;
- ``train.epochs`` :math:`= \operatorname{clip}(\lceil 8000 / N \rceil, 15, 40)`: about as
  many weight updates on a small corpus as on a large one (8000 utterance passes), at least
  15 and at most 40 epochs.

Examples
--------
>>> from asr.config import Config, apply_overrides
>>> cfg = apply_overrides(Config(), ["model.templates_per_word=auto", "train.epochs=auto"])
>>> stats = {"words": 20, "recordings": 400, "per_word": 20, "speakers": 16}
>>> resolved, record = resolve_from_stats(cfg, stats)
>>> resolved.model.templates_per_word, resolved.train.epochs
(4, 20)
>>> record["train.epochs"]["rule"]
'clip(ceil(8000 / N), 15, 40), N = 400 training recordings'
"""

import copy
import dataclasses
import math
import statistics
from collections import Counter
from collections.abc import Sequence

from asr.config import AUTO, Config
from asr.errors import ConfigError

# (section, key) of every field that accepts "auto", in the order they are resolved
AUTO_FIELDS = (("model", "templates_per_word"), ("model", "tdnn_dims"), ("model", "embed_dim"),
               ("model", "dropout"), ("train", "weight_decay"), ("train", "epochs"))
SCARCE = 50  # recordings per word below which regularization is raised
BIG = 1000  # training recordings from which the TDNN gets its full width
UPDATES = 8000  # utterance passes aimed at by train.epochs


def data_stats(train_utterances: Sequence) -> dict:
    """``words``, ``recordings``, ``per_word`` (median per word) and ``speakers`` of a manifest."""
    if not train_utterances:
        raise ConfigError("auto settings: the training manifest is empty")
    counts = Counter(u.word for u in train_utterances)
    return {"words": len(counts), "recordings": len(train_utterances),
            "per_word": int(statistics.median(counts.values())),
            "speakers": len({u.speaker for u in train_utterances})}


def auto_values(config: Config, stats: dict) -> dict:
    """The value and the rule of every ``auto`` field for data summarized by ``stats``."""
    n, total = stats["per_word"], stats["recordings"]
    width = 128 if total < BIG else 256
    layers = len(config.model.tdnn_contexts)
    scarce = n < SCARCE
    return {
        ("model", "templates_per_word"): (
            min(n, max(4, math.ceil(n / 8)), 8),
            f"min(n, max(4, ceil(n / 8)), 8), n = {n} recordings per word"),
        ("model", "tdnn_dims"): (
            [width] * layers, f"{width} per layer ({'<' if total < BIG else '>='} {BIG} "
                              f"training recordings: N = {total})"),
        ("model", "embed_dim"): (64, "64"),
        ("model", "dropout"): (
            0.2 if scarce else 0.1, f"{'0.2' if scarce else '0.1'} (n = {n} recordings per word "
                                    f"{'<' if scarce else '>='} {SCARCE})"),
        ("train", "weight_decay"): (
            0.01 if scarce else 0.0, f"{'0.01' if scarce else '0'} (n = {n} recordings per "
                                     f"word {'<' if scarce else '>='} {SCARCE})"),
        ("train", "epochs"): (
            min(40, max(15, math.ceil(UPDATES / total))),
            f"clip(ceil({UPDATES} / N), 15, 40), N = {total} training recordings"),
    }


def resolve_from_stats(config: Config, stats: dict) -> tuple[Config, dict]:
    """A copy of ``config`` with every ``auto`` value replaced, and the record of what was set."""
    resolved = copy.deepcopy(config)
    values = auto_values(config, stats)
    record = {}
    for section, key in AUTO_FIELDS:
        part = getattr(resolved, section)
        if getattr(part, key) == AUTO:
            value, rule = values[(section, key)]
            setattr(part, key, value)
            record[f"{section}.{key}"] = {"value": value, "rule": rule}
    unresolved(resolved, must_be_empty=True)
    return resolved.validate(), record


def resolve_auto(config: Config, train_utterances: Sequence) -> tuple[Config, dict]:
    """Resolve ``config``'s ``auto`` values from the training utterances (see module doc).

    Returns the resolved config and ``{"section.key": {"value", "rule"}}``, plus ``"data"``
    (the statistics used) when anything was resolved.
    """
    if not unresolved(config):
        return config, {}
    stats = data_stats(train_utterances)
    resolved, record = resolve_from_stats(config, stats)
    return resolved, {**record, "data": stats}


def unresolved(config: Config, must_be_empty: bool = False) -> list[str]:
    """Keys of ``config`` still set to ``"auto"``; with ``must_be_empty``, ConfigError if any
    (a model cannot be built from them)."""
    keys = [f"{name}.{f.name}" for name in ("model", "train")
            for f in dataclasses.fields(getattr(config, name))
            if getattr(getattr(config, name), f.name) == AUTO]
    if keys and must_be_empty:
        raise ConfigError(f"{', '.join(keys)}: 'auto' must be resolved from the training data "
                          "before a model is built (asr.training.auto.resolve_auto)")
    return keys
