"""Every setting of an experiment as dataclasses: front end, model and training; YAML in and out.

A :class:`Config` is read from YAML (:func:`load_config`), changed by ``key=value`` overrides
with dotted keys (``train.lr=0.001``, ``model.templates_per_word=6``,
``train.loss_params.beta=2``) and written back resolved (:func:`save_config`). Every key and value
is checked against the dataclass field it targets: an unknown key, a value of the wrong type or
a value outside its choices raises :class:`asr.errors.ConfigError`, never passes silently.

Examples
--------
>>> cfg = apply_overrides(Config(), ["train.lr=1e-3", "model.kind=templates"])
>>> cfg.train.lr, cfg.model.kind
(0.001, 'templates')
>>> apply_overrides(Config(), ["train.lrr=1"])
Traceback (most recent call last):
...
asr.errors.ConfigError: override 'train.lrr=1': unknown key 'lrr' in section 'train'
"""

import dataclasses
import inspect
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from asr.errors import ConfigError
from asr.features import FrontendConfig

MODEL_KINDS = ("tdnn", "templates", "dtw1nn")
# a value resolved from the training data when training starts (asr.training.auto)
AUTO = "auto"
Auto = Literal["auto"]


@dataclass
class ModelConfig:
    """The recognizer: front-end network G_W, templates, and the DTW that compares them.

    ``kind`` picks one of three recognizers built from the same settings:

    - ``dtw1nn``: plain DTW 1-nearest-neighbour on front-end features, every training
      utterance a template, nothing trained (the classic isolated-word recognizer);
    - ``templates``: ``templates_per_word`` trained templates per word, identity front end;
    - ``tdnn``: TDNN front end and trained templates, trained jointly.

    ``input_norm="global"`` standardizes every feature with the training set's mean and
    standard deviation (stored in the model) before anything else: useful when the front end
    does no per-utterance normalization (``frontend.cmvn="none"``).

    The energy of word :math:`y` for input :math:`X` is

    .. math::

        E(W, y, X) = \\operatorname{min}^{\\gamma_T}_{k} \\; \\frac{1}{Z_k}
        \\operatorname{min}^{\\gamma}_{\\pi} \\sum_{(i, j) \\in \\pi} w_{ij}\\,
        d\\bigl(G_W(X)_i, T_{y,k,j}\\bigr)
        = \\operatorname{min}^{\\gamma_T}_{k} \\; \\operatorname{min}^{\\gamma / Z_k}_{\\pi}
        \\frac{1}{Z_k} \\sum_{(i, j) \\in \\pi} w_{ij}\\, d\\bigl(G_W(X)_i, T_{y,k,j}\\bigr),

    with :math:`\\operatorname{min}^{\\gamma} = -\\gamma \\log \\sum \\exp(-\\cdot/\\gamma)` (the
    hard minimum at :math:`\\gamma = 0`), local distance :math:`d` (``metric``), step weights
    :math:`w` of the step pattern ``step`` and normalization :math:`Z_k` (:math:`N + M_k` for
    the symmetric patterns, :math:`N` for ``asymmetric``; ``normalize``). ``gamma`` is the
    temperature of the soft minimum over paths of the *accumulated* cost, applied before the
    division by :math:`Z_k`: on the normalized (per-frame) path energies the temperature is
    :math:`\\gamma / Z_k` (about :math:`\\gamma / 100` for two one-second utterances at a 10 ms
    hop). ``template_gamma`` (default: ``gamma``) is the temperature of the soft minimum over
    a word's templates, on normalized energies. Soft energies can be negative (see
    :mod:`asr.losses`).
    """

    kind: Literal["tdnn", "templates", "dtw1nn"] = "tdnn"
    input_norm: Literal["none", "global"] = "none"
    tdnn_dims: list[int] | Auto = field(default_factory=lambda: [256, 256, 256])
    tdnn_contexts: list[int] = field(default_factory=lambda: [5, 3, 3])
    tdnn_dilations: list[int] = field(default_factory=lambda: [1, 2, 3])
    tdnn_strides: list[int] = field(default_factory=lambda: [1, 2, 1])
    embed_dim: int | None | Auto = 64
    activation: Literal["relu", "gelu", "tanh", "sigmoid"] = "relu"
    norm: Literal["layer", "none"] = "layer"
    dropout: float | Auto = 0.1
    output_norm: Literal["none", "l2", "layer", "utterance"] = "none"
    input_skip: bool = False
    templates_per_word: int | Auto = 4
    templates_per_speaker: int = 0
    template_init: Literal["medoids", "dba"] = "medoids"
    init_max_utterances: int = 200
    dba_iterations: int = 5
    step: str = "symmetric2"
    band: int | None = None
    gamma: float = 0.0
    template_gamma: float | None = None
    normalize: bool = True
    metric: str = "sqeuclidean"

    def validate(self) -> None:
        """Check ranges that types cannot express; raise ConfigError naming the key."""
        n = len(self.tdnn_contexts) if self.tdnn_dims == AUTO else len(self.tdnn_dims)
        for name in ("tdnn_contexts", "tdnn_dilations", "tdnn_strides"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"model.{name}: needs one entry per layer of model.tdnn_dims "
                                  f"({n}), got {len(getattr(self, name))}")
        for name in ("tdnn_dims", "tdnn_contexts", "tdnn_dilations", "tdnn_strides"):
            if getattr(self, name) != AUTO and any(v < 1 for v in getattr(self, name)):
                raise ConfigError(f"model.{name}: every entry must be >= 1")
        _check_range("model.embed_dim", self.embed_dim, low=1)
        _check_range("model.dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _check_range("model.templates_per_word", self.templates_per_word, low=1)
        _check_range("model.templates_per_speaker", self.templates_per_speaker, low=0)
        _check_range("model.init_max_utterances", self.init_max_utterances, low=1)
        _check_range("model.dba_iterations", self.dba_iterations, low=0)
        _check_range("model.gamma", self.gamma, low=0.0)
        _check_range("model.template_gamma", self.template_gamma, low=0.0)
        _check_range("model.band", self.band, low=0)
        from asr.dtw.steps import METRICS, STEP_PATTERNS

        if self.metric not in METRICS:
            raise ConfigError(f"model.metric: must be one of {list(METRICS)}, "
                              f"got {self.metric!r}")
        if self.step not in STEP_PATTERNS:
            raise ConfigError(f"model.step: must be one of {list(STEP_PATTERNS)}, "
                              f"got {self.step!r}")


@dataclass
class TrainConfig:
    """Training: optimizer, loss, minibatches, augmentation, stopping and reproducibility.

    Augmentation (training utterances only): each epoch an utterance is drawn at one of the
    precomputed ``speeds`` (resampling changes tempo and formants, like vocal-tract-length
    perturbation), its spectral envelope may be warped by a factor in
    :math:`[1 - \\text{vtlp}, 1 + \\text{vtlp}]` (log-mel bands directly, MFCCs by one linear
    map of the cepstra: :func:`asr.training.augment.cepstral_warp`), and SpecAugment-style masks
    (``spec_time_masks`` of up to ``spec_time_width`` frames, ``spec_freq_masks`` of up to
    ``spec_freq_width`` feature channels) and Gaussian ``feature_noise`` are applied, after up
    to ``crop_frames`` frames are dropped at each end and a random channel offset (standard
    deviation ``channel_offset``, one draw per utterance, on the static coefficients of the
    normalized features: :class:`asr.training.augment.Augmenter`) is added. With probability
    ``noise_prob`` an utterance is instead recomputed from its waveform with coloured noise at
    an SNR drawn in ``noise_snr`` (dB).

    With speaker CMVN (``frontend.cmvn="speaker"``), ``online_history`` chooses what the model is
    trained for. ``None``: batch speaker CMVN (the speaker's mean over all of his training
    utterances), validation and test likewise. An integer :math:`H`: online CMVN as a deployed
    recognizer meets a new speaker (:class:`asr.training.augment.OnlineCmvnSimulator`): each draw of
    a training utterance is normalized from the training prior (weight ``prior_frames`` frames),
    :math:`h \\sim U\\{0..H\\}` other utterances of its speaker and itself; validation and test are
    then scored one utterance at a time (prior and the utterance only, no other recording of its
    speaker). ``prior_frames`` is stored with the model as the prior's weight for ``asr recognize
    --speaker`` and ``asr eval --online``.

    ``init_encoder``: an experiment directory (or checkpoint file) whose trained TDNN starts
    G_W instead of random weights, e.g. one trained on another corpus with more speakers (same
    front end and TDNN shape); the templates are then initialized through it.

    Competitor pruning (:mod:`asr.training.pruning`): with ``prune_words`` > 0, an utterance is
    aligned only with its own word and the ``prune_words`` competitors of lowest stored energy,
    except in every ``prune_full_every``-th epoch (the first included), which aligns every word.
    The model is scored on the validation set (and ``best.pt`` possibly replaced) after every
    ``valid_every``-th epoch and after the last.

    ``ema_epochs`` > 0 keeps an exponential moving average of the weights (TDNN and templates,
    :mod:`asr.training.averaging`) that spans about that many epochs (per-batch decay
    ``1 - 1 / (ema_epochs * batches per epoch)``, so the same
    setting suits a small corpus and a large one): gradients are taken at the raw weights, but
    validation, ``best.pt`` and ``last.pt`` hold the average. 0 turns it off.
    """

    epochs: int | Auto = 30
    batch_size: int = 32
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 0.001
    template_lr: float | None = None
    momentum: float = 0.9
    weight_decay: float | Auto = 0.0
    lr_schedule: Literal["constant", "cosine"] = "cosine"
    warmup_epochs: int = 0
    grad_clip: float | None = 5.0
    ema_epochs: float = 0.0
    loss: str = "mmi"
    loss_params: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    speeds: list[float] = field(default_factory=lambda: [0.9, 1.0, 1.1])
    vtlp: float = 0.0
    spec_time_masks: int = 2
    spec_time_width: int = 5
    spec_freq_masks: int = 2
    spec_freq_width: int = 4
    feature_noise: float = 0.0
    channel_offset: float = 0.0
    crop_frames: int = 0
    noise_prob: float = 0.0
    noise_snr: list[float] = field(default_factory=lambda: [5.0, 25.0])
    hide_own_speaker: bool = False
    online_history: int | None = None
    prior_frames: float = 100.0
    init_encoder: str | None = None
    patience: int = 0
    prune_words: int = 0
    prune_full_every: int = 4
    valid_every: int = 1
    threads: int = 2
    jobs: int = 2
    cache_dir: str | None = None

    def validate(self) -> None:
        """Check ranges, the loss name and its parameters; raise ConfigError naming the key."""
        _check_range("train.epochs", self.epochs, low=0)
        _check_range("train.batch_size", self.batch_size, low=1)
        _check_range("train.lr", self.lr, low=0.0)
        _check_range("train.template_lr", self.template_lr, low=0.0)
        _check_range("train.momentum", self.momentum, low=0.0, high=1.0)
        _check_range("train.weight_decay", self.weight_decay, low=0.0)
        _check_range("train.warmup_epochs", self.warmup_epochs, low=0)
        _check_range("train.grad_clip", self.grad_clip, low=0.0)
        _check_range("train.ema_epochs", self.ema_epochs, low=0.0)
        _check_range("train.vtlp", self.vtlp, low=0.0, high=0.5)
        _check_range("train.feature_noise", self.feature_noise, low=0.0)
        _check_range("train.channel_offset", self.channel_offset, low=0.0)
        _check_range("train.noise_prob", self.noise_prob, low=0.0, high=1.0)
        if len(self.noise_snr) != 2 or self.noise_snr[0] > self.noise_snr[1]:
            raise ConfigError(f"train.noise_snr: needs [low, high] in dB, got {self.noise_snr}")
        _check_range("train.patience", self.patience, low=0)
        _check_range("train.online_history", self.online_history, low=0)
        _check_range("train.prior_frames", self.prior_frames, low=0.0)
        _check_range("train.prune_words", self.prune_words, low=0)
        _check_range("train.prune_full_every", self.prune_full_every, low=1)
        _check_range("train.valid_every", self.valid_every, low=1)
        _check_range("train.threads", self.threads, low=1)
        _check_range("train.jobs", self.jobs, low=1)
        for name in ("spec_time_masks", "spec_time_width", "spec_freq_masks", "spec_freq_width",
                     "crop_frames"):
            _check_range(f"train.{name}", getattr(self, name), low=0)
        if not self.speeds or any(not 0.5 <= s <= 2.0 for s in self.speeds):
            raise ConfigError(f"train.speeds: needs 1 or more factors in [0.5, 2], "
                              f"got {self.speeds}")
        from asr.losses import LOSSES

        if self.loss not in LOSSES:
            raise ConfigError(f"train.loss: must be one of {sorted(LOSSES)}, got {self.loss!r}")
        accepted = list(inspect.signature(LOSSES[self.loss]).parameters)[2:]
        for key in self.loss_params:
            if key not in accepted:
                raise ConfigError(f"train.loss_params.{key}: loss {self.loss!r} takes "
                                  f"{accepted or 'no parameters'}")


@dataclass
class Config:
    """A whole experiment: ``frontend`` (features), ``model`` and ``train``."""

    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> "Config":
        """Check every section; returns ``self``."""
        self.model.validate()
        self.train.validate()
        if self.train.online_history is not None and self.frontend.cmvn != "speaker":
            raise ConfigError("train.online_history: needs frontend.cmvn=speaker (it simulates "
                              "online speaker CMVN)")
        if self.train.hide_own_speaker and self.model.templates_per_speaker < 1:
            raise ConfigError("train.hide_own_speaker: needs model.templates_per_speaker >= 1 "
                              "(templates that know their speaker)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (str, int, float, bool, None, lists, dicts): YAML- and torch-safe."""
        return {"frontend": _plain(self.frontend.to_dict()),
                "model": _plain(dataclasses.asdict(self.model)),
                "train": _plain(dataclasses.asdict(self.train))}

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> "Config":
        """Build from a nested dict, checking every key and value (missing keys keep defaults)."""
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: must be a mapping with sections frontend, model, train")
        unknown = set(data) - set(SECTIONS)
        if unknown:
            raise ConfigError(f"{source}: unknown section {sorted(unknown)[0]!r} "
                              f"(sections: {', '.join(SECTIONS)})")
        cfg, changes = cls(), {}
        for section, values in data.items():
            if values is None:
                continue
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: section {section!r} must be a mapping")
            for key, value in values.items():
                _set(cfg, section, str(key), value, f"{source}: {section}.{key}", changes)
        _apply_frontend(cfg, changes, source)
        try:
            return cfg.validate()
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None


SECTIONS = ("frontend", "model", "train")


def load_config(path: str | Path) -> Config:
    """Read a YAML config; unknown keys and bad values raise :class:`ConfigError`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    return Config.from_dict(data, source=str(path))


def save_config(config: Config, path: str | Path) -> None:
    """Write the resolved config as YAML (sections frontend, model, train)."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a copy of ``config``.

    Dict-valued fields take one more level: ``train.loss_params.beta=2``.
    """
    cfg, changes = Config.from_dict(config.to_dict()), {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: must look like section.key=value")
        parts = key.strip().split(".")
        if len(parts) < 2 or parts[0] not in SECTIONS:
            raise ConfigError(f"override {item!r}: key must start with one of "
                              f"{', '.join(s + '.' for s in SECTIONS)}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        section = getattr(cfg, parts[0])
        if parts[1] not in {f.name for f in dataclasses.fields(section)}:
            raise ConfigError(f"override {item!r}: unknown key {parts[1]!r} in section "
                              f"{parts[0]!r}")
        if len(parts) == 3 and isinstance(getattr(section, parts[1]), dict):
            value = {**getattr(section, parts[1]), parts[2]: value}
        elif len(parts) != 2:
            raise ConfigError(f"override {item!r}: key too deep")
        _set(cfg, parts[0], parts[1], value, f"override {item!r}", changes)
    _apply_frontend(cfg, changes, "override")
    return cfg.validate()


def _set(cfg: Config, section: str, key: str, value: Any, where: str,
         frontend_changes: dict) -> None:
    """Check and set one key; front-end keys are collected in ``frontend_changes`` and applied
    together by :func:`_apply_frontend` (the front end checks its keys jointly, e.g.
    ``n_mfcc <= n_mels``)."""
    target = getattr(cfg, section)
    fields = {f.name: f for f in dataclasses.fields(target)}
    if key not in fields:
        raise ConfigError(f"{where}: unknown key {key!r} in section {section!r}")
    hints = typing.get_type_hints(type(target))
    tp = hints.get(key, type(getattr(target, key)))
    value = _coerce(value, tp, f"{where}")
    if section == "frontend":
        frontend_changes[key] = value
    else:
        setattr(target, key, value)


def _apply_frontend(cfg: Config, changes: dict, where: str) -> None:
    if not changes:
        return
    try:
        cfg.frontend = FrontendConfig.from_dict({**cfg.frontend.to_dict(), **changes})
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` converted to type ``tp`` or raise ConfigError naming ``where``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0] if errors else ConfigError(f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: must be one of {list(args)}, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: must be a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: must be a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: must have {len(args)} entries, got {value!r}")
            return tuple(_coerce(v, a, where) for v, a in zip(value, args, strict=True))
        item = args[0] if args else Any
        out = [_coerce(v, item, where) for v in value]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: must be a mapping, got {value!r}")
        vtype = args[1] if args else Any
        return {str(k): _coerce(v, vtype, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: cannot use {value!r} as {getattr(tp, '__name__', tp)}")


def _check_range(name, value, low=None, high=None, high_open=False):
    if value is None or value == AUTO:  # "auto": checked once resolved
        return
    if low is not None and value < low:
        raise ConfigError(f"{name}: must be >= {low}, got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ConfigError(f"{name}: must be {'<' if high_open else '<='} {high}, got {value}")


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively, so YAML and ``torch.load(weights_only=True)`` accept it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
