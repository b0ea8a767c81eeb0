"""``asr learning-curve``: accuracy against recordings per word, beside plain DTW 1-NN."""

import click


def _counts(ctx, param, value):
    try:
        counts = [int(v) for v in str(value).split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: needs comma-separated integers, e.g. 3,5,10") \
            from None
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"{value!r}: needs one or more counts >= 1")
    return counts


@click.command("learning-curve")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Folder with train.jsonl, valid.jsonl and test.jsonl (from asr prepare).")
@click.option("--exp", "exp_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: runs/, curve.json, curve.md, curve.png (reruns resume).")
@click.option("--per-word", "counts", required=True, callback=_counts,
              help="Training recordings per word at each point, e.g. 3,5,10,20,50.")
@click.option("--seeds", default="0", show_default=True,
              help="Comma-separated seeds (subsets and training), e.g. 0,1,2.")
@click.option("--per-speaker", is_flag=True,
              help="Counts are per speaker and word (e.g. FSDD's takes), not per word.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="YAML config of the trained recognizer. "
                                 "[default: recipes/folder/conf/default.yaml's settings]")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.argument("overrides", nargs=-1)
def learning_curve(data_dir, exp_dir, counts, seeds, per_speaker, config_file, quiet, overrides):
    """Train on nested random subsets of DATA's training recordings (COUNTS per word, per seed)
    and score the same test set one utterance at a time, with plain DTW 1-NN on the same
    subsets and the product of the two; OVERRIDES are section.key=value."""
    from asr.config import apply_overrides, load_config
    from asr.training.learning_curve import folder_default, markdown_table
    from asr.training.learning_curve import learning_curve as run_curve

    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{seeds!r}: needs comma-separated integers",
                                 param_hint="--seeds") from None
    if not seed_list:
        raise click.BadParameter("needs at least one seed", param_hint="--seeds")
    config = load_config(config_file) if config_file else folder_default()
    config = apply_overrides(config, list(overrides))
    log = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    summary = run_curve(data_dir, exp_dir, counts, seed_list, config, per_speaker=per_speaker,
                        log=log)
    click.echo(markdown_table(summary))
    click.echo(f"wrote {exp_dir}/curve.json, curve.md, curve.png")
