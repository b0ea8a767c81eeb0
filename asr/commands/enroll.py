"""``asr enroll`` and ``asr forget``: add a word from a few recordings, or remove one."""

import click


@click.command("enroll")
@click.option("--exp", "exp_dir", required=True, type=click.Path(file_okay=False),
              help="Experiment directory to change in place (created with --qbe-from).")
@click.option("--word", required=True, help="Name of the new word.")
@click.argument("files", nargs=-1, required=True)
@click.option("--templates", type=click.IntRange(1), default=None,
              help="Templates for the word, medoids of the candidates (examples times "
              "speeds; default: every candidate).")
@click.option("--init", type=click.Choice(["medoids", "dba"]), default=None,
              help="Medoids of the examples, or DBA-refined medoids (default: the model's).")
@click.option("--tune", "tune_seconds", type=click.FloatRange(0), default=0.0,
              show_default=True, help="Seconds to train the new templates (0: no tuning).")
@click.option("--speed", "speeds", type=click.FloatRange(0.5, 2.0), multiple=True,
              default=(1.0,), show_default=True, help="Candidate templates from speed-perturbed "
              "copies of each example too; repeat, e.g. --speed 0.9 --speed 1 --speed 1.1.")
@click.option("--normalize", type=click.Choice(["each", "together"]), default="each",
              show_default=True, help="Speaker CMVN of the examples: each with the training "
              "prior as a strict recognition does, or together as one speaker's.")
@click.option("--qbe-from", "qbe_from", type=click.Path(exists=True, file_okay=False),
              default=None, help="Create EXP as a query-by-example recognizer (DTW on the "
              "front-end features of the examples, no network) with this experiment's front "
              "end; later words are enrolled into EXP as usual.")
def enroll(exp_dir, word, files, templates, init, tune_seconds, speeds, normalize, qbe_from):
    """Add WORD to EXP from 1 to 5 example recordings FILES, without retraining the TDNN.

    Its templates are the examples through the trained front end (medoids or DBA); EXP's
    best.pt and last.pt are rewritten atomically, the previous versions kept as *.pt.bak."""
    from asr.enrollment import enroll as run

    if qbe_from:
        from asr.enrollment.experiment import new_qbe_experiment

        summary = new_qbe_experiment(exp_dir, qbe_from, word, list(files))
    else:
        summary = run(exp_dir, word, list(files), templates=templates, init=init,
                      tune_seconds=tune_seconds, speeds=speeds, normalize=normalize)
    tune = summary.get("tune")
    extra = (f"; tuned {tune['steps']} steps, loss {tune['loss_before']:.4f} -> "
             f"{tune['loss_after']:.4f}" if tune else "")
    click.echo(f"enrolled {word!r}: {summary['templates']} template(s) from "
               f"{len(files)} example(s){extra}; vocabulary ({len(summary['vocabulary'])}): "
               f"{' '.join(summary['vocabulary'])}")


@click.command("forget")
@click.option("--exp", "exp_dir", required=True, help="Experiment directory to change in place.",
              type=click.Path(exists=True, file_okay=False))
@click.option("--word", required=True, help="The word to remove.")
def forget(exp_dir, word):
    """Remove WORD (and its templates) from EXP; the previous checkpoints are kept as *.pt.bak."""
    from asr.enrollment import forget as run

    summary = run(exp_dir, word)
    click.echo(f"forgot {word!r}; vocabulary ({len(summary['vocabulary'])}): "
               f"{' '.join(summary['vocabulary'])}")
