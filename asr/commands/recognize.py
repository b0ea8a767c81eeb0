"""``asr recognize``: the best words of audio files, with energies and margin."""

import click


@click.command("recognize")
@click.option("--exp", "exp_dir", required=True, help="Experiment directory written by asr train.",
              type=click.Path(exists=True, file_okay=False))
@click.argument("files", nargs=-1, required=True)
@click.option("--top", type=click.IntRange(1), default=1, show_default=True,
              help="How many words to list per file, best first.")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def recognize(exp_dir, files, top, which, fmt):
    """Recognize each FILE. A file that fails gets a one-line error and the others are still
    recognized; the exit status is 1 when any file failed.

    With speaker CMVN (a model trained with frontend.cmvn=speaker) the files of one call are
    taken as one speaker's: the speaker's mean comes from all of them, so give a speaker's
    recordings together (one file alone gets its own mean and variance normalization)."""
    import json

    from asr.inference import load_experiment, recognize_files

    recognizer, config = load_experiment(exp_dir, which=which)
    results = recognize_files(recognizer, config, files, top=top)
    if fmt == "json":
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            if r.error:
                continue
            answers = "  ".join(f"{w} ({e:.4f})" for w, e in zip(r.words, r.energies, strict=True))
            click.echo(f"{r.path}\t{answers}\tmargin {r.margin:.4f}")
    failed = [r for r in results if r.error]
    for r in failed:
        click.echo(f"Error: {r.error}", err=True)
    if failed:
        raise SystemExit(1)
