"""``asr eval``: accuracy, confusions and the accuracy-rejection curve of a trained experiment."""

import click

from asr.commands.options import adaptation_options


@click.command("eval")
@click.option("--exp", "exp_dirs", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False),
              help="Experiment directory written by asr train; give it several times to score "
                   "the ensemble (sum of each model's standardized energies).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the results. [default: the experiment; required for an "
                   "ensemble]")
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Utterances to score. [default: test.jsonl of the experiment's data]")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Checkpoint: best by validation accuracy, or last epoch.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--speed", "speeds", type=click.FloatRange(0.5, 2.0), multiple=True,
              default=(1.0,), show_default=True,
              help="Score speed-perturbed copies and average their energies (test-time "
                   "augmentation); repeat for several, e.g. --speed 0.9 --speed 1 --speed 1.1.")
@click.option("--self-exemplars", "self_fraction", default=None,
              type=click.FloatRange(0.0, 1.0, min_open=True),
              help="Adapt to each test speaker without labels: the FRACTION of his utterances "
                   "with the largest margins keep their answers and become DTW exemplars of "
                   "a second expert (asr.recognition.adapt), on the front end of the first "
                   "dtw1nn --exp (else the first --exp), added with equal weight to the "
                   "models' energies.")
@click.option("--online", is_flag=True,
              help="Online speaker CMVN: each utterance decided from itself and its speaker's "
                   "earlier utterances only (asr.features.online), speakers from the manifest.")
@adaptation_options("--online", "utterances")
@click.option("--order-seed", type=int, default=None,
              help="With --online: meet the utterances in a random order fixed by this seed "
                   "(default: manifest order).")
@click.option("--prior-frames", type=click.FloatRange(0.0), default=None,
              help="With --online: weight, in frames, of the training speakers' mean in each "
                   "speaker's online mean. [default: the experiment's own, "
                   "train.prior_frames]")
@click.option("--strict", is_flag=True,
              help="Every utterance on its own, as a speaker of its own (what asr recognize "
                   "does without --speaker): no statistics from the speaker's other "
                   "recordings.")
@click.option("--weight", "weights", type=click.FloatRange(0.0), multiple=True,
              help="Weight of each --exp in the ensemble, in the same order (as chosen by "
                   "asr pick-weights on a validation speaker). [default: equal]")
@click.option("--jobs", type=click.IntRange(1), default=2, show_default=True,
              help="Processes for feature extraction.")
def evaluate(exp_dirs, out_dir, manifest, which, fmt, speeds, self_fraction, online,
             own_per_word, cmvn_state, own_weight, order_seed, prior_frames, strict, weights,
             jobs):
    """Score EXP on a manifest; write eval.json, confusion.png and rejection.png into EXP.

    The rejection figures give the fraction of utterances that must be rejected (lowest margin
    first) to bring the error among the accepted ones down to 1% and to 0.1%. With several
    --exp, the models (same vocabulary, each with its own front end) are combined as a product
    of experts (asr.recognition.ensemble) and the results go to --out.

    eval.json records the mode: "strict" (each utterance decided from itself and the models
    alone: no model uses speaker CMVN, or every utterance has its own speaker id, as asr
    recognize without --speaker; with --online, from the training prior too), "online"
    (--online: from the speaker's earlier utterances too) or "batch" (speaker CMVN over all of
    a speaker's utterances, or --self-exemplars: it reads the speaker's other recordings first).
    """
    import json
    from pathlib import Path

    from asr import plots
    from asr.errors import DataError
    from asr.evaluate import format_table, score
    from asr.inference import experts_energies
    from asr.recognition.ensemble import combine_energies

    if not online and (order_seed is not None or prior_frames is not None
                       or own_per_word is not None):
        raise click.UsageError("--order-seed, --prior-frames and --own-exemplars need --online")
    if not online and not cmvn_state:
        raise click.UsageError("--no-cmvn-state needs --online (without it, use --strict)")
    if strict and (online or self_fraction is not None):
        raise click.UsageError("--strict takes each utterance on its own: it cannot be combined "
                               "with --online or --self-exemplars")
    if weights and len(weights) != len(exp_dirs):
        raise click.UsageError(f"--weight: give one per --exp ({len(exp_dirs)}), "
                               f"got {len(weights)}")
    if online and self_fraction is not None:
        raise click.UsageError("--self-exemplars reads a speaker's later utterances too: it "
                               "cannot be combined with --online")
    exps = [Path(e) for e in exp_dirs]
    if len(exps) > 1 and out_dir is None:
        raise click.UsageError("an ensemble (several --exp) needs --out DIR for its results")
    exp = Path(out_dir) if out_dir is not None else exps[0]
    exp.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        data_dir = _data_dir_of(exps[0])
        manifest = data_dir / "test.jsonl"
        if not manifest.is_file():
            raise DataError(f"{manifest}: no test manifest (give one with --manifest)")
    settings = None
    if online:
        settings = online_settings(manifest, order_seed, prior_frames)
    energies, labels, utterances, configs, words = experts_energies(
        exps, manifest, which=which, jobs=jobs, speeds=sorted(set(speeds)),
        online=settings if cmvn_state else None, strict=strict or not cmvn_state)
    energies = (energies[0] if len(energies) == 1
                else combine_energies(energies, list(weights) or None))
    if self_fraction is not None:
        frontend = next((c.frontend for c in configs if c.model.kind == "dtw1nn"),
                        configs[0].frontend)
        energies = _with_self_exemplars(energies, utterances, frontend, manifest,
                                        self_fraction, jobs)
    if own_per_word is not None:
        energies = _with_own_exemplars(energies, utterances, configs, manifest,
                                       settings["order"], own_per_word, own_weight, jobs)
    result = score(energies, labels, words)
    result["manifest"] = str(manifest)
    result["checkpoint"] = which
    result["speeds"] = sorted(set(speeds))
    result["self_exemplars"] = self_fraction
    result["experiments"] = [str(e) for e in exps]
    result["mode"] = ("strict" if strict or (not cmvn_state and own_per_word is None)
                      else _mode(online, self_fraction, configs, utterances))
    result["weights"] = list(weights) or None
    if online:
        result["cmvn_state"] = cmvn_state
        result["own_exemplars"] = own_per_word
        result["own_weight"] = own_weight if own_per_word is not None else None
        result["order_seed"] = order_seed
        result["prior_frames"] = settings["prior_frames"]
    prefix = "" if Path(manifest).stem == "test" else f"{Path(manifest).stem}-"
    (exp / f"{prefix}eval.json").write_text(json.dumps(result, indent=2) + "\n")
    name = Path(manifest).name
    plots.plot_confusion(exp / f"{prefix}confusion.png", result["confusion"], words,
                         title=f"Confusions on {name} ({100 * result['accuracy']:.2f}% correct)")
    curves = {exp.name: result["rejection_curve"]}
    plots.plot_rejection_curve(exp / f"{prefix}rejection.png", curves,
                               title=f"Accuracy-rejection on {name}")
    if fmt == "json":
        click.echo(json.dumps({k: v for k, v in result.items() if k != "rejection_curve"},
                              indent=2))
    else:
        click.echo(format_table(result))
        click.echo(f"mode: {result['mode']}")


def online_settings(manifest, order_seed, prior_frames):
    """Keyword arguments of asr.features.online_speaker_cmvn (less the prior mean): the manifest's
    utterances in manifest order, or in a random order fixed by ``order_seed``."""
    import numpy as np

    from asr.corpora import read_manifest

    n = len(read_manifest(manifest))
    order = (list(range(n)) if order_seed is None
             else np.random.default_rng(order_seed).permutation(n).tolist())
    return {"order": order, "include_current": True, "prior_frames": prior_frames}


def _mode(online, self_fraction, configs, utterances):
    """"strict" (each utterance decided from itself and the models alone), "online" (and its
    speaker's earlier utterances) or "batch" (and its speaker's other utterances)."""
    if self_fraction is not None:
        return "batch"
    speakers = [u.speaker for u in utterances]
    shared = len(set(speakers)) < len(speakers)
    if not shared or not any(c.frontend.cmvn == "speaker" for c in configs):
        return "strict"
    return "online" if online else "batch"


def _with_self_exemplars(energies, utterances, frontend, manifest, fraction, jobs):
    """The energies combined with the test speakers' own confident answers
    (asr.recognition.adapt)."""
    from asr.inference import manifest_features
    from asr.recognition.adapt import self_exemplar_energies
    from asr.recognition.ensemble import combine_energies

    features = manifest_features(utterances, frontend, manifest, jobs=jobs)
    speakers = [u.speaker for u in utterances]
    own = self_exemplar_energies(features, speakers, energies, fraction)
    return combine_energies([energies, own])


def own_features(utterances, configs, manifest, jobs):
    """Raw features (speed 1, no speaker CMVN) of the own-exemplar expert's front end: the first
    dtw1nn expert's, else the first expert's (as asr.recognition.System)."""
    from pathlib import Path

    from asr.features import FeatureCache

    frontend = next((c.frontend for c in configs if c.model.kind == "dtw1nn"),
                    configs[0].frontend)
    cache = FeatureCache(Path(manifest).resolve().parent / ".cache" / "features")
    return cache.get(utterances, frontend, speed=1.0, jobs=jobs)


def _with_own_exemplars(energies, utterances, configs, manifest, order, per_word, weight,
                        jobs):
    """The energies combined with each speaker's own earlier answers
    (asr.recognition.adapt.OwnExemplars)."""
    from asr.recognition.adapt import own_exemplar_energies
    from asr.recognition.ensemble import combine_energies

    features = own_features(utterances, configs, manifest, jobs)
    speakers = [u.speaker for u in utterances]
    own = own_exemplar_energies(features, speakers, energies, order, per_word)
    return combine_energies([energies, own], [1.0, weight])


def _data_dir_of(exp):
    """The data directory an experiment was trained on, from its results.json or config.yaml."""
    import json
    from pathlib import Path

    from asr.errors import DataError

    results = exp / "results.json"
    if results.is_file():
        data = json.loads(results.read_text()).get("data_dir")
        if data:
            return Path(data)
    raise DataError(f"{exp}: cannot tell which data it was trained on (give --manifest)")
