"""``asr eval``: accuracy, confusions and the accuracy-rejection curve of a trained experiment."""

import click


@click.command("eval")
@click.option("--exp", "exp_dir", required=True, help="Experiment directory written by asr train.",
              type=click.Path(exists=True, file_okay=False))
@click.option("--manifest", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Utterances to score. [default: test.jsonl of the experiment's data]")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Checkpoint: best by validation accuracy, or last epoch.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--jobs", type=click.IntRange(1), default=2, show_default=True,
              help="Processes for feature extraction.")
def evaluate(exp_dir, manifest, which, fmt, jobs):
    """Score EXP on a manifest; write eval.json, confusion.png and rejection.png into EXP.

    The rejection figures give the fraction of utterances that must be rejected (lowest margin
    first) to bring the error among the accepted ones down to 1% and to 0.1%.
    """
    import json
    from pathlib import Path

    from asr import plots
    from asr.errors import DataError
    from asr.evaluate import format_table, score
    from asr.inference import load_experiment, manifest_energies

    exp = Path(exp_dir)
    recognizer, config = load_experiment(exp, which=which)
    if manifest is None:
        data_dir = _data_dir_of(exp)
        manifest = data_dir / "test.jsonl"
        if not manifest.is_file():
            raise DataError(f"{manifest}: no test manifest (give one with --manifest)")
    energies, labels, _ = manifest_energies(recognizer, config, manifest, jobs=jobs)
    result = score(energies, labels, recognizer.words)
    result["manifest"] = str(manifest)
    result["checkpoint"] = which
    prefix = "" if Path(manifest).stem == "test" else f"{Path(manifest).stem}-"
    (exp / f"{prefix}eval.json").write_text(json.dumps(result, indent=2) + "\n")
    name = Path(manifest).name
    plots.plot_confusion(exp / f"{prefix}confusion.png", result["confusion"], recognizer.words,
                         title=f"Confusions on {name} ({100 * result['accuracy']:.2f}% correct)")
    curves = {exp.name: result["rejection_curve"]}
    plots.plot_rejection_curve(exp / f"{prefix}rejection.png", curves,
                               title=f"Accuracy-rejection on {name}")
    if fmt == "json":
        click.echo(json.dumps({k: v for k, v in result.items() if k != "rejection_curve"},
                              indent=2))
    else:
        click.echo(format_table(result))


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
