"""``asr train``: train the TDNN and templates of an experiment, or resume it."""

import click


@click.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="Folder with train.jsonl, valid.jsonl and test.jsonl (from asr prepare).")
@click.option("--exp", "exp_dir", required=True, type=click.Path(file_okay=False),
              help="Experiment folder to write (config, checkpoints, metrics, results).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="YAML config (sections frontend, model, train). [default: built-in defaults]")
@click.option("--loss", default=None, help="Loss name (sets train.loss), e.g. mmi, hinge, mce.")
@click.option("--seed", type=int, default=None, help="Random seed (sets train.seed).")
@click.option("--epochs", type=click.IntRange(0), default=None,
              help="Number of epochs (sets train.epochs).")
@click.option("--resume", is_flag=True,
              help="Continue from EXP/last.pt if it exists (same settings required).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--nproc", type=click.IntRange(1), default=1, show_default=True,
              help="Data-parallel processes on this machine (starts torchrun; each process "
                   "aligns its shard of every batch, see asr.training.distributed).")
@click.argument("overrides", nargs=-1)
def train(data_dir, exp_dir, config_file, loss, seed, epochs, resume, quiet, nproc, overrides):
    """Train on DATA, writing EXP; OVERRIDES are section.key=value (e.g. train.lr=0.001).

    Every epoch appends validation accuracy and loss to EXP/metrics.jsonl and rewrites
    EXP/last.pt; EXP/best.pt keeps the best model by validation accuracy; at the end
    EXP/results.json holds the test figures, versions and timings.
    """
    import logging
    import shlex
    import sys

    if nproc > 1:
        _run_torchrun(nproc)
        return
    from asr.config import Config, apply_overrides, load_config
    from asr.train import train as run_training

    config = load_config(config_file) if config_file else Config()
    extra = list(overrides)
    if loss is not None:
        extra.append(f"train.loss={loss}")
    if seed is not None:
        extra.append(f"train.seed={seed}")
    if epochs is not None:
        extra.append(f"train.epochs={epochs}")
    config = apply_overrides(config, extra)
    words = ["asr", "train", "--data", data_dir, "--exp", exp_dir]
    for flag, value in (("--config", config_file), ("--loss", loss), ("--seed", seed),
                        ("--epochs", epochs)):
        if value is not None:
            words += [flag, str(value)]
    words += ["--resume"] * resume + ["--quiet"] * quiet + list(overrides)
    command_line = " ".join(shlex.quote(str(w)) for w in words)
    if not quiet:  # one line per epoch on stderr (the progress bar only shows on a terminal)
        echo = logging.StreamHandler(sys.stderr)
        echo.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger("asr.train").addHandler(echo)
    try:
        results = run_training(data_dir, exp_dir, config, resume=resume,
                               command_line=command_line, progress=not quiet)
    finally:
        if not quiet:
            logging.getLogger("asr.train").removeHandler(echo)
    test = results.get("test")
    valid = results["valid"]
    click.echo(f"valid accuracy {100 * valid['accuracy']:.2f}% (epoch {valid['best_epoch']})"
               + (f", test accuracy {100 * test['accuracy']:.2f}% "
                  f"on {test.get('num_utterances', '?')} utterances" if test else "")
               + f"; {results['train_seconds']:.0f}s training; results in "
                 f"{exp_dir}/results.json")


def _run_torchrun(nproc: int) -> None:
    """Run this same ``asr train`` command line (without ``--nproc``) in ``nproc`` processes."""
    import subprocess
    import sys

    from asr.errors import AsrError
    from asr.training.distributed import torchrun_command

    argv = sys.argv[1:]
    cleaned, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word == "--nproc":
            skip = True
            continue
        if word.startswith("--nproc="):
            continue
        cleaned.append(word)
    code = subprocess.call(torchrun_command(nproc, cleaned))
    if code:
        raise AsrError(f"asr train --nproc {nproc}: torchrun exited with status {code}")
