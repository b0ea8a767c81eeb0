"""Config: defaults, YAML round trip, typed dotted overrides, and loud failures."""

from pathlib import Path

import pytest
import yaml

from asr.config import Config, apply_overrides, load_config, save_config
from asr.errors import ConfigError
from asr.features import FrontendConfig

REPO_CONF = __import__("pathlib").Path(__file__).resolve().parents[1] / "recipes" / "fsdd" / "conf"


def test_defaults_validate_and_round_trip_through_yaml(tmp_path):
    cfg = Config().validate()
    path = tmp_path / "c.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg
    assert set(yaml.safe_load(path.read_text())) == {"frontend", "model", "train"}


def test_overrides_are_typed():
    cfg = apply_overrides(Config(), [
        "train.lr=1e-3",                 # YAML reads this as a string: still a float
        "train.epochs=7",
        "train.speeds=[0.9, 1.0]",
        "model.tdnn_dims=[32,16]", "model.tdnn_contexts=[3,3]",
        "model.tdnn_dilations=[1,1]", "model.tdnn_strides=[1,1]",
        "model.embed_dim=null",
        "model.band=4",
        "model.normalize=false",
        "train.loss=hinge", "train.loss_params.margin=0.5",
        "frontend.sample_rate=8000", "frontend.fmax=4000", "frontend.kind=logmel",
    ])
    assert cfg.train.lr == 0.001 and isinstance(cfg.train.lr, float)
    assert cfg.train.epochs == 7 and cfg.train.speeds == [0.9, 1.0]
    assert cfg.model.tdnn_dims == [32, 16] and cfg.model.embed_dim is None
    assert cfg.model.band == 4 and cfg.model.normalize is False
    assert cfg.train.loss_params == {"margin": 0.5}
    assert cfg.frontend == FrontendConfig(sample_rate=8000, fmax=4000.0, kind="logmel")
    assert Config().train.lr == 0.001  # the original is untouched


def test_front_end_keys_are_checked_together():
    cfg = apply_overrides(Config(), ["frontend.n_mels=8", "frontend.n_mfcc=8"])
    assert (cfg.frontend.n_mels, cfg.frontend.n_mfcc) == (8, 8)
    with pytest.raises(ConfigError, match="n_mfcc"):
        apply_overrides(Config(), ["frontend.n_mels=8"])


def test_overrides_leave_the_input_config_alone():
    base = Config()
    apply_overrides(base, ["train.epochs=3"])
    assert base.train.epochs == Config().train.epochs


@pytest.mark.parametrize("override, fragment", [
    ("train.lrr=1", "unknown key 'lrr'"),
    ("training.lr=1", "must start with"),
    ("lr=1", "must start with"),
    ("train.lr", "section.key=value"),
    ("train.lr=fast", "must be a number"),
    ("train.epochs=2.5", "must be an integer"),
    ("train.epochs=true", "must be an integer"),
    ("train.optimizer=rmsprop", "must be one of"),
    ("train.speeds=1.0", "must be a list"),
    ("train.speeds=[0.1]", "train.speeds"),
    ("model.normalize=yes please", "true or false"),
    ("model.kind=hmm", "must be one of"),
    ("model.step=diagonal", "model.step"),
    ("model.tdnn_dims=[8]", "one entry per layer"),
    ("model.dropout=1.5", "model.dropout"),
    ("train.loss=mse", "train.loss"),
    ("train.loss_params.margin=1", "takes"),          # default loss mmi has beta, not margin
    ("train.loss_params.beta=high", "must be a number"),
    ("train.lr.x=1", "too deep"),
    ("frontend.kind=wavelet", "frontend.kind"),
    ("frontend.n_fft=512", "unknown key"),
])
def test_bad_overrides_raise_config_error_naming_the_key(override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("(", r"\(")) as e:
        apply_overrides(Config(), [override])
    assert "\n" not in str(e.value)


def test_hidden_speaker_training_needs_speaker_templates():
    with pytest.raises(ConfigError, match="templates_per_speaker"):
        apply_overrides(Config(), ["train.hide_own_speaker=true"])
    apply_overrides(Config(), ["train.hide_own_speaker=true", "model.templates_per_speaker=1"])


@pytest.mark.parametrize("text, fragment", [
    ("model:\n  tdnn_width: 3\n", "unknown key 'tdnn_width'"),
    ("modle:\n  kind: tdnn\n", "unknown section"),
    ("- just\n- a list\n", "must be a mapping"),
    ("model: [1, 2]\n", "must be a mapping"),
    ("train:\n  epochs: [\n", "not valid YAML"),
    ("train:\n  batch_size: 0\n", "train.batch_size"),
])
def test_bad_yaml_raises_config_error(tmp_path, text, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment) as e:
        load_config(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_partial_yaml_keeps_defaults(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("train:\n  epochs: 3\nmodel:\n")
    cfg = load_config(path)
    assert cfg.train.epochs == 3 and cfg.model == Config().model


@pytest.mark.parametrize("name", ["default.yaml", "speaker_independent.yaml"])
def test_recipe_configs_load(name):
    cfg = load_config(REPO_CONF / name)
    assert cfg.frontend.sample_rate == 8000 and cfg.model.kind == "tdnn"


def test_model_metric_choices_are_the_ones_the_dtw_computes():
    """model.metric accepts exactly asr.dtw.METRICS: a metric the config lets through must not
    fail later in pairwise_dtw (after features are computed)."""
    import torch

    from asr.dtw import METRICS, pairwise_dtw

    x = [torch.randn(4, 3)]
    for metric in METRICS:
        cfg = apply_overrides(Config(), [f"model.metric={metric}"])
        assert pairwise_dtw(x, x, metric=cfg.model.metric).shape == (1, 1)
    with pytest.raises(ConfigError, match="model.metric"):
        apply_overrides(Config(), ["model.metric=euclidean"])


def test_distribution_has_a_name_of_its_own():
    """`asr` on PyPI is somebody else's: ours installs as elastic-asr, imports as asr."""
    import tomllib
    from importlib.metadata import version

    from asr.cli import DISTRIBUTION

    meta = tomllib.loads((REPO_CONF.parents[2] / "pyproject.toml").read_text())["project"]
    assert meta["name"] == DISTRIBUTION != "asr"
    assert meta["scripts"]["asr"] == "asr.cli:main"
    assert version(DISTRIBUTION)


RECIPE_CONFIGS = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*/conf/*.yaml"))


@pytest.mark.parametrize("path", RECIPE_CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_recipe_config_loads_and_validates(path, tmp_path):
    config = load_config(path)
    config.validate()
    save_config(config, tmp_path / "resolved.yaml")          # round trip of the resolved form
    assert load_config(tmp_path / "resolved.yaml").to_dict() == config.to_dict()
