"""``asr pick-weights``: the experts' weights of an ensemble, chosen on held-out speakers."""

import click


@click.command("pick-weights")
@click.option("--exp", "exp_dirs", required=True, multiple=True,
              type=click.Path(exists=True, file_okay=False),
              help="Experiment directory of one expert; give it once per expert (2 or more).")
@click.option("--manifest", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Held-out utterances to choose on: a validation speaker's, never the test "
                   "speakers'.")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="JSON file written with the weights and the accuracy of each choice.")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--speed", "speeds", type=click.FloatRange(0.5, 2.0), multiple=True,
              default=(1.0,), show_default=True,
              help="Average each expert's energies over speed-perturbed copies (as asr eval).")
@click.option("--grid", default="0,0.5,1,2", show_default=True,
              help="Comma-separated candidate weights of each expert.")
@click.option("--jobs", type=click.IntRange(1), default=2, show_default=True,
              help="Processes for feature extraction.")
def pick_weights(exp_dirs, manifest, out_file, which, speeds, grid, jobs):
    """Choose the weights w_m of the product of experts sum_m w_m E_m / sigma_m (asr.ensemble)
    that recognize the most utterances of MANIFEST, each utterance on its own (strict: no
    statistics from the speaker's other recordings), and write them to --out; pass them to
    asr eval / asr recognize as --weight, one per --exp, in the same order."""
    import json
    import os
    from pathlib import Path

    from asr.ensemble import ensemble_accuracy, pick_weights
    from asr.inference import experts_energies

    if len(exp_dirs) < 2:
        raise click.UsageError("give two or more --exp (the experts to weigh)")
    try:
        candidates = sorted({float(x) for x in grid.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter(f"{grid!r}: comma-separated numbers",
                                 param_hint="--grid") from None
    if not candidates or min(candidates) < 0 or max(candidates) <= 0:
        raise click.BadParameter("needs non-negative numbers, one of them > 0",
                                 param_hint="--grid")
    energies, labels, utterances, _, _ = experts_energies(
        exp_dirs, manifest, which=which, jobs=jobs, speeds=sorted(set(speeds)), strict=True)
    weights, accuracy = pick_weights(energies, labels, candidates)
    result = {
        "weights": weights,
        "accuracy": accuracy,
        "equal_weights_accuracy": ensemble_accuracy(energies, labels),
        "each_expert_accuracy": [float((e.argmin(dim=1) == labels).float().mean())
                                 for e in energies],
        "experiments": [str(e) for e in exp_dirs],
        "manifest": str(manifest),
        "validation_speakers": sorted({u.speaker for u in utterances}),
        "mode": "strict",
        "speeds": sorted(set(speeds)),
        "grid": candidates,
        "checkpoint": which,
    }
    out = Path(out_file)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    rows = [(str(e), f"{100 * a:.1f}", f"{w:g}")
            for e, a, w in zip(exp_dirs, result["each_expert_accuracy"], weights, strict=True)]
    width = max(len(r[0]) for r in rows)
    click.echo(f"{'expert':<{width}}  accuracy alone (%)  weight")
    for name, acc, w in rows:
        click.echo(f"{name:<{width}}  {acc:>18}  {w:>6}")
    click.echo(f"ensemble: {100 * accuracy:.1f}% with these weights, "
               f"{100 * result['equal_weights_accuracy']:.1f}% with equal weights -> {out}")
