"""``asr compare-losses``: train one architecture with each loss of the family and compare."""

import click


def _csv(ctx, param, value):
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise click.BadParameter("give at least one value")
    return items


@click.command("compare-losses")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder with train.jsonl, valid.jsonl and test.jsonl.")
@click.option("--exp", "exp_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: runs/<loss>/seed<N>/, comparison.{md,json}, *.png.")
@click.option("--losses", callback=_csv, show_default=True,
              default="lvq2,mce,mmi,perceptron,hinge,log,square-square,square-exp,energy",
              help="Comma-separated loss names.")
@click.option("--seeds", callback=_csv, default="0", show_default=True,
              help="Comma-separated seeds; each loss is trained once per seed.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="YAML config shared by every run. [default: built-in defaults]")
@click.option("--param", "params", multiple=True, metavar="LOSS.KEY=VALUE",
              help="A parameter of one loss, e.g. hinge.margin=0.5 (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.argument("overrides", nargs=-1)
def compare_losses(data_dir, exp_dir, losses, seeds, config_file, params, quiet, overrides):
    """Train the same model on DATA with each loss and seed, then tabulate test accuracy, error,
    rejection for 1% error, mean margin, epochs to best and wall time. Finished runs are reused,
    interrupted ones resume. OVERRIDES are section.key=value settings for every run."""
    from asr.config import Config, apply_overrides, load_config
    from asr.losses import LOSSES
    from asr.training.compare import compare_losses as run_comparison
    from asr.training.compare import markdown_table

    unknown = [name for name in losses if name not in LOSSES]
    if unknown:
        raise click.BadParameter(f"unknown loss {', '.join(unknown)} "
                                 f"(choose from {', '.join(LOSSES)})", param_hint="--losses")
    try:
        seeds = [int(s) for s in seeds]
    except ValueError:
        raise click.BadParameter("seeds must be integers", param_hint="--seeds") from None
    loss_params = _loss_params(params, LOSSES)
    base = load_config(config_file) if config_file else Config()
    base = apply_overrides(base, list(overrides))
    summary = run_comparison(data_dir, exp_dir, losses, seeds, base, loss_params=loss_params,
                             progress=not quiet, log=lambda m: click.echo(m, err=True))
    click.echo(markdown_table(summary["rows"], seeds))
    click.echo(f"wrote {exp_dir}/comparison.md, comparison.json, curves.png, energies.png")


def _loss_params(params, losses):
    """{"hinge": {"margin": 0.5}} from ("hinge.margin=0.5",)."""
    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        loss, dot, name = key.partition(".")
        if not sep or not dot or loss not in losses:
            raise click.BadParameter(f"{item!r}: expected LOSS.KEY=VALUE with a known loss",
                                     param_hint="--param")
        try:
            out.setdefault(loss, {})[name] = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: value must be a number",
                                     param_hint="--param") from None
    return out
