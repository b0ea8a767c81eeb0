"""The training loop: TDNN and templates trained jointly by a loss on DTW energies.

Each epoch every training utterance is drawn at one of the precomputed speeds, augmented in the
feature domain (:mod:`asr.training.augment`), and grouped with utterances of similar length
(minibatches bucketed by length, in a random order); the loss of :mod:`asr.losses` on the batch's
energy matrix [B, W] is back-propagated through the DTW into the templates and the TDNN. After each
epoch the validation accuracy and loss go to ``EXP_DIR/metrics.jsonl``; ``best.pt`` keeps the model
of best validation accuracy (ties: lower validation loss) and ``last.pt`` everything needed to
resume bit-for-bit (weights, optimizer, random-number-generator states, history), both written
atomically. At the end the best model is scored on the test set into ``EXP_DIR/results.json``.
"""

import contextlib
import json
import logging
import math
import os
import platform
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from asr.checkpoint import (
    load_checkpoint,
    recognizer_from_payload,
    recognizer_payload,
    save_checkpoint,
)
from asr.config import Config, save_config
from asr.errors import CheckpointError, ConfigError, DataError
from asr.training import distributed
from asr.training.augment import Augmenter, NoisyFeatures, OnlineCmvnSimulator
from asr.training.averaging import WeightAverage

LOG = logging.getLogger("asr.train")
# this process's place in a data-parallel run (asr.training.distributed); rank 0 writes files
_ctx = distributed.Context()
# settings that change speed, not results: they may differ on --resume
_RUNTIME_KEYS = {("train", "threads"), ("train", "jobs"), ("train", "cache_dir")}


def train(data_dir, exp_dir, config: Config, resume: bool = False, command_line=None,
          progress: bool = True) -> dict:
    """Train (or resume) an experiment and score its best model; returns the results dict.

    Parameters
    ----------
    data_dir : path
        Folder with ``train.jsonl``, ``valid.jsonl`` and (optionally) ``test.jsonl``.
    exp_dir : path
        Output folder (created): ``config.yaml``, ``metrics.jsonl``, ``best.pt``, ``last.pt``,
        ``results.json``, ``log/train.log``.
    config : Config
        Resolved settings.
    resume : bool
        Continue from ``exp_dir/last.pt`` if it exists (the config must match it).
    command_line : str, optional
        Recorded in ``results.json``.
    progress : bool
        Show a progress bar on stderr.
    """
    global _ctx
    start_time = time.time()
    data_dir, exp_dir = Path(data_dir), Path(exp_dir)
    config.validate()
    _ctx = distributed.setup()
    handler = None
    if _ctx.is_main:
        exp_dir.mkdir(parents=True, exist_ok=True)
        handler = _attach_log(exp_dir)
    try:
        return _train(data_dir, exp_dir, config, resume, command_line,
                      progress and _ctx.is_main, start_time)
    finally:
        if handler is not None:
            LOG.removeHandler(handler)
            handler.close()
        distributed.teardown(_ctx)
        _ctx = distributed.Context()


def _train(data_dir, exp_dir, config, resume, command_line, progress, start_time):
    from asr.losses import LOSSES
    from asr.training.auto import resolve_auto

    splits = _read_splits(data_dir)
    config, auto = resolve_auto(config, splits["train"])  # "auto" values from the data
    for key, entry in auto.items():
        if key != "data":
            LOG.info("auto: %s = %s (%s)", key, entry["value"], entry["rule"])
    tc, mc = config.train, config.model
    _set_threads(tc.threads)
    last_path = exp_dir / "last.pt"
    state = None
    if resume and last_path.is_file():
        state = load_checkpoint(last_path)
        _check_same_config(state["config"], config, last_path)
        LOG.info("resuming from %s (epoch %d done)", last_path, state["epoch"])
    elif resume:
        LOG.info("no checkpoint in %s: starting from scratch", exp_dir)
    if _ctx.is_main:
        save_config(config, exp_dir / "config.yaml")

    words = sorted({u.word for u in splits["train"]})
    index = {w: i for i, w in enumerate(words)}
    for name, utts in splits.items():
        unknown = sorted({u.word for u in utts} - set(index))
        if unknown:
            raise DataError(f"{data_dir / (name + '.jsonl')}: word {unknown[0]!r} is not in "
                            f"train.jsonl's vocabulary")
    labels = {name: torch.tensor([index[u.word] for u in utts], dtype=torch.long)
              for name, utts in splits.items()}

    cache = _cache(data_dir, config)
    # data-parallel: rank 0 computes the features into the cache first, the other ranks wait
    # and then read them from it (one barrier on each side of the feature work)
    if _ctx.distributed and not _ctx.is_main:
        _ctx.barrier()
    prior = None
    if config.frontend.cmvn == "speaker":  # the prior of online speaker CMVN
        from asr.features import feature_prior

        prior = feature_prior(cache.get(splits["train"], config.frontend, speed=1.0,
                                        jobs=tc.jobs))
        prior["prior_frames"] = tc.prior_frames
    feats = _features(cache, config, splits, prior)
    if tc.online_history is not None:
        train_plain = _strict(cache.get(splits["train"], config.frontend, speed=1.0,
                                        jobs=tc.jobs), prior)
    else:
        train_plain = (feats["train"][tc.speeds.index(1.0)] if 1.0 in tc.speeds
                       else _features_of(cache, config, splits["train"], speed=1.0))
    if _ctx.distributed and _ctx.is_main:
        _ctx.barrier()

    if state is None:
        from asr.model import build_recognizer

        per = (f"{mc.templates_per_speaker} templates/speaker/word" if mc.templates_per_speaker
               else f"{mc.templates_per_word} templates/word")
        LOG.info("initializing %s (%s) for %d words from %d utterances", per, mc.template_init,
                 len(words), len(train_plain))
        recognizer = build_recognizer(mc, words, config.frontend.dim, train_plain,
                                      labels["train"].tolist(), seed=tc.seed,
                                      speakers=[u.speaker for u in splits["train"]],
                                      encoder_state=_pretrained_encoder(config))
    else:
        recognizer, _ = recognizer_from_payload(state, source=str(last_path))
        if recognizer.words != words:
            raise CheckpointError(f"{last_path}: trained on words {recognizer.words}, the data "
                                  f"has {words}")
    if prior is not None:
        recognizer.feature_prior = prior
    loss_fn = LOSSES[tc.loss]
    trainable = mc.kind != "dtw1nn" and tc.epochs > 0
    optimizer = _optimizer(recognizer, tc) if trainable else None
    average = WeightAverage(recognizer) if trainable and tc.ema_epochs else None

    rngs = {"py": random.Random(tc.seed), "np": np.random.default_rng(tc.seed)}
    torch.manual_seed(tc.seed)
    history, best = [], {"epoch": 0, "accuracy": -1.0, "loss": math.inf}
    start_epoch, stopped, elapsed_before = 0, False, 0.0
    if state is not None:
        if optimizer is not None and state.get("optimizer"):
            optimizer.load_state_dict(state["optimizer"])
        if average is not None and state.get("ema"):
            # last.pt holds the averaged weights; training goes on from the raw ones
            try:
                average.steps = int(state["ema"]["steps"])
                with torch.no_grad():
                    for name, p in recognizer.named_parameters():
                        p.copy_(state["ema"]["raw"][name])
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise CheckpointError(f"{last_path}: damaged weight average ({exc})") from None
        rngs["py"].setstate(_tuplify(state["rng"]["py"]))
        rngs["np"].bit_generator.state = state["rng"]["np"]
        torch.set_rng_state(state["rng"]["torch"])
        history, best = list(state["history"]), dict(state["best"])
        start_epoch, stopped = int(state["epoch"]), bool(state.get("stopped", False))
        elapsed_before = float(state.get("train_seconds", 0.0))
    else:
        # the initial model counts as epoch 0 (the baseline without training)
        valid = _score(recognizer, feats["valid"][0], labels["valid"], loss_fn, tc.loss_params)
        history.append({"epoch": 0, "train_loss": None, "valid_loss": valid["loss"],
                        "valid_accuracy": valid["accuracy"], "lr": None, "seconds": 0.0})
        best = {"epoch": 0, "accuracy": valid["accuracy"], "loss": valid["loss"]}
        _save_best(exp_dir, recognizer, config, best)
        LOG.info("epoch 0 (initial): valid accuracy %.4f loss %.4f", valid["accuracy"],
                 valid["loss"])
        _save_last(exp_dir, recognizer, config, optimizer, rngs, history, best, 0, False, 0.0,
                   average=average)
    _write_metrics(exp_dir, history)

    # masks write the mean the model sees: in the standardized domain under input_norm=global
    fill = recognizer.input_mean.detach().clone() if mc.input_norm == "global" else None
    augmenter = Augmenter(config.frontend, tc.vtlp, tc.spec_time_masks, tc.spec_time_width,
                          tc.spec_freq_masks, tc.spec_freq_width, tc.feature_noise,
                          tc.crop_frames, fill, tc.channel_offset)
    noisy = None
    if trainable and tc.noise_prob > 0:
        means = None
        if config.frontend.cmvn == "speaker":
            from asr.features import speaker_means

            speakers = [u.speaker for u in splits["train"]]
            # the cache's in-memory copies of the raw features that _features just read
            means = {s: speaker_means(cache.get(splits["train"], config.frontend, speed=s,
                                                jobs=tc.jobs), speakers) for s in tc.speeds}
        noisy = NoisyFeatures(splits["train"], config.frontend, tc.noise_snr, means)
    online = None
    if trainable and tc.online_history is not None:
        online = OnlineCmvnSimulator(feats["train"], [u.speaker for u in splits["train"]],
                                     prior["mean"], tc.prior_frames, tc.online_history)
    from asr.training.pruning import CompetitorPruner

    pruner = CompetitorPruner(len(splits["train"]), len(words), tc.prune_words,
                              tc.prune_full_every)
    if state is not None and state.get("pruner") is not None:
        pruner.last = state["pruner"]
    epoch_start, cpu_start = time.time(), time.process_time()
    for epoch in range(start_epoch + 1, tc.epochs + 1 if trainable else 0):
        if stopped:
            break
        t0, cpu0 = time.time(), time.process_time()
        hide = None
        if tc.hide_own_speaker:
            hide = torch.tensor([recognizer.speakers.index(u.speaker)
                                 if u.speaker in recognizer.speakers else -1
                                 for u in splits["train"]], dtype=torch.long)
        train_loss = _train_epoch(recognizer, optimizer, feats["train"], labels["train"],
                                  loss_fn, tc, augmenter, rngs["np"], epoch, progress, hide,
                                  noisy, pruner, online, average)
        train_end, cpu_seconds = time.time(), time.process_time() - cpu0
        validate = epoch % tc.valid_every == 0 or epoch == tc.epochs
        with average.swapped() if average is not None else contextlib.nullcontext():
            valid = (_score(recognizer, feats["valid"][0], labels["valid"], loss_fn,
                            tc.loss_params) if validate else {"loss": None, "accuracy": None})
            better = validate and ((valid["accuracy"], -valid["loss"])
                                   > (best["accuracy"], -best["loss"]))
            if better:
                best = {"epoch": epoch, "accuracy": valid["accuracy"], "loss": valid["loss"]}
                _save_best(exp_dir, recognizer, config, best)
        row = {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid["loss"],
               "valid_accuracy": valid["accuracy"], "lr": optimizer.param_groups[0]["lr"],
               "seconds": round(time.time() - t0, 3)}
        history.append(row)
        if tc.patience and epoch - best["epoch"] >= tc.patience:
            stopped = True
            LOG.info("early stop: no better validation accuracy for %d epochs", tc.patience)
        spent = elapsed_before + time.time() - epoch_start
        _save_last(exp_dir, recognizer, config, optimizer, rngs, history, best, epoch, stopped,
                   spent, pruner.last if pruner.active else None, average)
        _write_metrics(exp_dir, history)
        shown = ("not validated" if not validate else
                 f"valid loss {valid['loss']:.4f} accuracy {valid['accuracy']:.4f}")
        LOG.info("epoch %d: train loss %.4f, %s (best %.4f @ %d), %.1fs (%.1fs training, "
                 "%.1fs CPU)", epoch, train_loss, shown, best["accuracy"], best["epoch"],
                 row["seconds"], train_end - t0, cpu_seconds)
    train_seconds = elapsed_before + time.time() - epoch_start
    train_cpu_seconds = time.process_time() - cpu_start

    if not _ctx.is_main:
        return {"valid": {"accuracy": best["accuracy"], "loss": best["loss"],
                          "best_epoch": best["epoch"]}, "test": None,
                "train_seconds": round(train_seconds, 2), "rank": _ctx.rank}
    results = _results(exp_dir, data_dir, config, splits, feats, labels, words, loss_fn,
                       history, best, train_seconds, start_time, command_line)
    results["auto"] = auto
    results["world_size"], results["backend"] = _ctx.world_size, _ctx.backend
    results["train_cpu_seconds"] = round(train_cpu_seconds, 2)  # this run's epochs only
    (exp_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    LOG.info("test accuracy %s", results["test"]["accuracy"] if results["test"] else "n/a")
    return results


def _pretrained_encoder(config: Config) -> dict | None:
    """The TDNN weights of ``train.init_encoder`` (an experiment or checkpoint), checked against
    this config's front end and TDNN shape; None when not set, or when the model has no TDNN
    (``dtw1nn``, ``templates``: the setting concerns G_W only)."""
    source = config.train.init_encoder
    if not source or config.model.kind != "tdnn":
        return None
    from asr.checkpoint import load_recognizer

    path = Path(source)
    exp, which = (path, "best") if path.is_dir() else (path.parent, str(path))
    recognizer, other = load_recognizer(exp, which=which)
    mine = config.model
    same = (other.frontend == config.frontend and recognizer.encoder is not None
            and all(getattr(other.model, k) == getattr(mine, k) for k in _TDNN_SHAPE))
    if not same:
        raise ConfigError(f"train.init_encoder={source}: its front end or TDNN shape "
                          f"({', '.join(_TDNN_SHAPE)}) differs from this config's")
    LOG.info("TDNN initialized from %s", source)
    return recognizer.encoder.state_dict()


_TDNN_SHAPE = ("kind", "tdnn_dims", "tdnn_contexts", "tdnn_dilations", "tdnn_strides",
               "embed_dim", "activation", "norm", "output_norm", "input_skip")


# --- data -----------------------------------------------------------------------------------
def _read_splits(data_dir: Path) -> dict:
    from asr.corpora import read_manifest

    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory not found")
    splits = {}
    for name in ("train", "valid", "test"):
        path = data_dir / f"{name}.jsonl"
        if not path.is_file():
            if name == "test":
                continue
            raise DataError(f"{path}: manifest not found (run asr prepare first)")
        splits[name] = read_manifest(path, allow_empty=name == "test")
        if not splits[name]:  # an empty test.jsonl (a corpus without its test part) is no test
            del splits[name]
    return splits


def _cache(data_dir: Path, config: Config):
    from asr.features import FeatureCache

    root = (Path(config.train.cache_dir) if config.train.cache_dir
            else data_dir / ".cache" / "features")
    return FeatureCache(root)


def _features_of(cache, config: Config, utterances, speed: float) -> list:
    """Front-end features of utterances at one speed, from the cache, speaker CMVN applied
    when configured (each speed's copies are a speaker of their own)."""
    from asr.features import finish_cmvn

    feats = cache.get(utterances, config.frontend, speed=speed, jobs=config.train.jobs)
    return finish_cmvn(feats, [u.speaker for u in utterances], config.frontend)


def _features(cache, config: Config, splits: dict, prior: dict | None = None) -> dict:
    """Front-end features: ``{"train": [per speed: list], "valid": [list], "test": [list]}``.

    With ``train.online_history`` set, the training features stay raw (normalized per draw by
    :class:`asr.training.augment.OnlineCmvnSimulator`) and validation and test utterances are
    normalized one at a time from the training ``prior`` (:func:`_strict`).
    """
    tc = config.train
    if tc.online_history is not None:
        out = {"train": [cache.get(splits["train"], config.frontend, speed=s, jobs=tc.jobs)
                         for s in tc.speeds]}
        for name in ("valid", "test"):
            if name in splits:
                out[name] = [_strict(cache.get(splits[name], config.frontend, speed=1.0,
                                               jobs=tc.jobs), prior)]
        return out
    out = {"train": [_features_of(cache, config, splits["train"], s) for s in tc.speeds]}
    for name in ("valid", "test"):
        if name in splits:
            out[name] = [_features_of(cache, config, splits[name], 1.0)]
    return out


def _strict(features, prior: dict) -> list:
    """Online speaker CMVN of each utterance on its own: the training prior and the utterance
    (what a recognizer that meets a new speaker knows at his first word)."""
    from asr.features import speaker_cmvn

    return speaker_cmvn(features, list(range(len(features))), prior=prior)


def bucket_batches(lengths, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Minibatches of utterances of similar length, in a random order.

    Utterances are sorted by length plus a uniform jitter of up to one batch's worth of
    neighbours (so buckets change from epoch to epoch), cut into batches of ``batch_size``,
    and the batches shuffled.
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    n = len(lengths)
    if n == 0:
        return []
    ranks = np.argsort(np.argsort(lengths, kind="stable"), kind="stable")
    order = np.argsort(ranks + rng.uniform(0, batch_size, size=n), kind="stable")
    batches = [order[i:i + batch_size].tolist() for i in range(0, n, batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


# --- optimization ---------------------------------------------------------------------------
def _optimizer(recognizer, tc) -> torch.optim.Optimizer:
    groups = []
    if recognizer.encoder is not None:
        groups.append({"params": list(recognizer.encoder.parameters()), "lr": tc.lr,
                       "weight_decay": tc.weight_decay, "base_lr": tc.lr})
    template_lr = tc.lr if tc.template_lr is None else tc.template_lr
    groups.append({"params": [recognizer.template_frames], "lr": template_lr,
                   "weight_decay": 0.0, "base_lr": template_lr})
    if tc.optimizer == "adam":
        return torch.optim.AdamW(groups, lr=tc.lr)
    return torch.optim.SGD(groups, lr=tc.lr, momentum=tc.momentum)


def lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """Learning-rate multiplier at optimizer step ``step`` of ``total``.

    Linear warm-up over ``warmup`` steps, then constant or cosine decay
    :math:`\\tfrac12 (1 + \\cos(\\pi\\, t))`, :math:`t` the fraction of the remaining steps done.
    """
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant" or total <= warmup:
        return 1.0
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _train_epoch(recognizer, optimizer, train_feats, labels, loss_fn, tc, augmenter, rng,
                 epoch, progress, hide=None, noisy=None, pruner=None, online=None,
                 average=None) -> float:
    from tqdm import tqdm

    recognizer.train()
    n = len(labels)
    speed = rng.integers(0, len(train_feats), size=n)
    lengths = [train_feats[speed[i]][i].shape[0] for i in range(n)]
    batches = bucket_batches(lengths, tc.batch_size, rng)
    steps_per_epoch = len(batches)
    total_steps = tc.epochs * steps_per_epoch
    warmup = tc.warmup_epochs * steps_per_epoch
    total_loss, seen = 0.0, 0
    if average is not None:
        average.decay = 1.0 - 1.0 / max(1.0, tc.ema_epochs * steps_per_epoch)
    bar = tqdm(batches, desc=f"epoch {epoch}/{tc.epochs}", leave=False,
               disable=not (progress and sys.stderr.isatty()), file=sys.stderr, dynamic_ncols=True)
    for b, batch in enumerate(bar):
        step = (epoch - 1) * steps_per_epoch + b
        factor = lr_factor(step, total_steps, warmup, tc.lr_schedule)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        # every process draws the whole global batch's augmentation (same random stream), then
        # aligns its own shard of it (asr.training.distributed)
        if online is not None:
            feats = [online(i, speed[i], rng) for i in batch]
        else:
            feats = [train_feats[speed[i]][i] for i in batch]
        if noisy is not None:
            feats = [noisy(i, tc.speeds[speed[i]], rng) if rng.random() < tc.noise_prob else f
                     for i, f in zip(batch, feats, strict=True)]
        if augmenter.active:
            feats = [augmenter(f, rng) for f in feats]
        index = torch.as_tensor(batch, dtype=torch.long)
        keep = None if pruner is None else pruner.words(index, labels[batch], epoch)
        mine = _ctx.shard(list(range(len(batch))))
        optimizer.zero_grad(set_to_none=True)
        computed = torch.zeros(len(batch), len(recognizer.words))
        loss_sum = 0.0
        if mine:
            rows = torch.as_tensor(mine, dtype=torch.long)
            own_keep = None if keep is None else keep[rows]
            energies = recognizer([feats[k] for k in mine],
                                  None if hide is None else hide[index[rows]], own_keep)
            if pruner is not None:
                computed[rows] = energies.detach().float()
                energies = pruner.combine(index[rows], energies, own_keep)
            loss = loss_fn(energies, labels[index[rows]], **tc.loss_params)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"epoch {epoch}: loss is {float(loss)} "
                                         "(lower train.lr?)")
            (loss * (len(mine) / len(batch))).backward()
            loss_sum = loss.item() * len(mine)
        if pruner is not None:
            pruner.store(index, _ctx.sum_rows(computed), keep)
        _ctx.all_reduce_grads(p for g in optimizer.param_groups for p in g["params"])
        if tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], tc.grad_clip)
        optimizer.step()
        if average is not None:
            average.update()
        total_loss += loss_sum
        seen += len(batch)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}")
    bar.close()
    total_loss = float(_ctx.sum_rows(torch.tensor([total_loss], dtype=torch.float64))[0])
    return total_loss / max(1, seen)


def _score(recognizer, feats, labels, loss_fn, loss_params) -> dict:
    """Accuracy and loss of the recognizer (eval mode) on un-augmented features."""
    recognizer.eval()
    if _ctx.distributed:  # each process scores its shard; the rows are summed
        mine = _ctx.shard(list(range(len(feats))))
        energies = torch.zeros(len(feats), len(recognizer.words))
        if mine:
            energies[mine] = recognizer.energies([feats[i] for i in mine])
        energies = _ctx.sum_rows(energies)
    else:
        energies = recognizer.energies(feats)
    with torch.no_grad():
        loss = float(loss_fn(energies, labels, **loss_params))
    accuracy = float((energies.argmin(dim=1) == labels).float().mean())
    return {"accuracy": accuracy, "loss": loss, "energies": energies}


# --- checkpoints and files ------------------------------------------------------------------
def _save_best(exp_dir, recognizer, config, best):
    if not _ctx.is_main:
        return
    save_checkpoint(exp_dir / "best.pt", {**recognizer_payload(recognizer, config),
                                          "epoch": best["epoch"], "best": dict(best)})


def _save_last(exp_dir, recognizer, config, optimizer, rngs, history, best, epoch, stopped,
               seconds, pruner_energies=None, average=None):
    """``last.pt``: the model as validated (the weight average when ``train.ema_epochs`` is on,
    with the raw weights under ``ema.raw`` for ``--resume``), optimizer and random states."""
    if not _ctx.is_main:
        return
    ema = None
    if average is not None:
        ema = {"steps": average.steps,
               "raw": {k: p.detach().clone() for k, p in recognizer.named_parameters()}}
    with average.swapped() if average is not None else contextlib.nullcontext():
        payload = recognizer_payload(recognizer, config)
    save_checkpoint(exp_dir / "last.pt", {
        **payload, "ema": ema,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "rng": {"py": _listify(rngs["py"].getstate()), "np": rngs["np"].bit_generator.state,
                "torch": torch.get_rng_state()},
        "history": history, "best": dict(best), "epoch": epoch, "stopped": stopped,
        "train_seconds": seconds, "pruner": pruner_energies})


def _write_metrics(exp_dir: Path, history: list[dict]) -> None:
    """Rewrite metrics.jsonl from the history (atomically: it always matches last.pt)."""
    if not _ctx.is_main:
        return
    tmp = exp_dir / ".metrics.jsonl.tmp"
    tmp.write_text("".join(json.dumps(row) + "\n" for row in history))
    os.replace(tmp, exp_dir / "metrics.jsonl")


def _check_same_config(stored: dict, config: Config, path: Path) -> None:
    current = config.to_dict()
    defaults = Config().to_dict()
    for section, values in current.items():
        for key, value in values.items():
            if (section, key) in _RUNTIME_KEYS:
                continue
            if key not in stored.get(section, {}) and value == defaults[section].get(key):
                continue  # a key newer than the checkpoint, at its default (what it trained with)
            if stored.get(section, {}).get(key) != value:
                raise ConfigError(f"{path}: was trained with {section}.{key}="
                                  f"{stored.get(section, {}).get(key)!r}, not {value!r}; resume "
                                  f"with the same settings or use a new --exp")


def _listify(value):
    if isinstance(value, tuple):
        return [_listify(v) for v in value]
    return value


def _tuplify(value):
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)
    try:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass


def _attach_log(exp_dir: Path) -> logging.Handler:
    (exp_dir / "log").mkdir(exist_ok=True)
    handler = logging.FileHandler(exp_dir / "log" / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    return handler


# --- results --------------------------------------------------------------------------------
def _results(exp_dir, data_dir, config, splits, feats, labels, words, loss_fn, history, best,
             train_seconds, start_time, command_line) -> dict:
    from asr.checkpoint import load_recognizer

    recognizer, _ = load_recognizer(exp_dir, "best")
    test = None
    if "test" in splits:
        t0 = time.time()
        energies = recognizer.energies(feats["test"][0])
        decode_seconds = time.time() - t0
        test = test_figures(energies, labels["test"], words)
        audio = sum(float(u.duration or 0.0) for u in splits["test"])
        test.update({"num_utterances": len(splits["test"]),
                     "decode_seconds": round(decode_seconds, 3),
                     "real_time_factor": round(audio / decode_seconds, 1)
                     if audio and decode_seconds > 0 else None})
    return {
        "data_dir": str(data_dir.resolve()),
        "exp_dir": str(exp_dir.resolve()),
        "test": test,
        "valid": {"accuracy": best["accuracy"], "loss": best["loss"],
                  "best_epoch": best["epoch"]},
        "epochs": len(history) - 1,
        "train_seconds": round(train_seconds, 2),
        "wall_seconds": round(time.time() - start_time, 2),
        "model": {"kind": config.model.kind, "templates": len(recognizer.template_lengths),
                  "parameters": sum(p.numel() for p in recognizer.parameters())},
        "loss": config.train.loss,
        "versions": versions(),
        "git_hash": git_hash(),
        "command_line": command_line or " ".join(shlex.quote(a) for a in sys.argv),
        "threads": config.train.threads,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def test_figures(energies: torch.Tensor, labels: torch.Tensor, words) -> dict:
    """The figures of :func:`asr.evaluate.score` for results.json (without the full curve)."""
    from asr.evaluate import score

    result = score(energies, labels, words)
    return {k: v for k, v in result.items() if k != "rejection_curve"}


def versions() -> dict:
    """Versions of Python and the numeric libraries."""
    out = {"python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__}
    for name in ("numba", "librosa"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    return out


def git_hash() -> str | None:
    """Commit of the source tree, with ``-dirty`` when it has local changes; None outside git."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")
