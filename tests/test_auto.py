"""``auto`` config values: accepted by the config, resolved from the data by the stated rule."""

import math

import pytest

from asr.config import Config, apply_overrides
from asr.corpora import Utterance
from asr.errors import ConfigError
from asr.training.auto import AUTO_FIELDS, data_stats, resolve_auto, unresolved

ALL_AUTO = [f"{section}.{key}=auto" for section, key in AUTO_FIELDS]


def utterances(words, per_word, speakers):
    return [Utterance(id=f"{w}-{i}", path=f"{w}-{i}.wav", word=w,
                      speaker=f"s{i % speakers}", duration=1.0)
            for w in words for i in range(per_word)]


def test_auto_is_accepted_where_allowed_and_nowhere_else():
    cfg = apply_overrides(Config(), ALL_AUTO)
    assert sorted(unresolved(cfg)) == sorted(f"{s}.{k}" for s, k in AUTO_FIELDS)
    with pytest.raises(ConfigError, match="model.templates_per_word"):
        apply_overrides(Config(), ["model.templates_per_word=automatic"])
    with pytest.raises(ConfigError, match="train.lr"):
        apply_overrides(Config(), ["train.lr=auto"])
    with pytest.raises(ConfigError, match="templates_per_word: must be >= 1"):
        apply_overrides(Config(), ["model.templates_per_word=0"])
    with pytest.raises(ConfigError, match="must be resolved"):
        unresolved(cfg, must_be_empty=True)


@pytest.mark.parametrize("per_word,words", [(2, 10), (5, 20), (20, 20), (60, 10), (200, 35)])
def test_rule_follows_the_data(per_word, words):
    train = utterances([f"w{i}" for i in range(words)], per_word, speakers=4)
    cfg, record = resolve_auto(apply_overrides(Config(), ALL_AUTO), train)
    n, total = per_word, per_word * words
    assert record["data"] == {"words": words, "recordings": total, "per_word": n,
                              "speakers": min(4, per_word)}
    assert cfg.model.templates_per_word == min(n, max(4, math.ceil(n / 8)), 8)
    assert cfg.model.templates_per_word <= n  # never more templates than exemplars
    assert cfg.model.tdnn_dims == [128 if total < 1000 else 256] * 3
    assert cfg.model.dropout == (0.2 if n < 50 else 0.1)
    assert cfg.train.weight_decay == (0.01 if n < 50 else 0.0)
    assert cfg.train.epochs == min(40, max(15, math.ceil(8000 / total)))
    assert not unresolved(cfg)
    for section, key in AUTO_FIELDS:
        entry = record[f"{section}.{key}"]
        assert entry["value"] == getattr(getattr(cfg, section), key) and entry["rule"]


def test_fixed_values_are_left_alone():
    train = utterances(["a", "b"], 3, speakers=2)
    cfg = apply_overrides(Config(), ["model.templates_per_word=7", "train.epochs=auto"])
    resolved, record = resolve_auto(cfg, train)
    assert resolved.model.templates_per_word == 7 and resolved.train.epochs == 40
    assert set(record) == {"train.epochs", "data"}
    assert resolve_auto(Config(), train) == (Config(), {})
    assert data_stats(train)["per_word"] == 3
    with pytest.raises(ConfigError, match="empty"):
        resolve_auto(cfg, [])
