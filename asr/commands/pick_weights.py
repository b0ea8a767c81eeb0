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
@click.option("--own-exemplars", "own_grid", default=None,
              help="Also choose, online (each utterance from itself and its speaker's earlier "
                   "ones, in the order of --order-seed), the own-exemplar expert of asr eval "
                   "--online --own-exemplars K for the chosen weights: comma-separated "
                   "candidate K (the choice may also be none).")
@click.option("--own-weights", "own_weight_grid", default="0.5,1,2", show_default=True,
              help="With --own-exemplars: comma-separated candidate weights of that expert.")
@click.option("--order-seed", type=int, default=None,
              help="With --own-exemplars: the online order (as asr eval --order-seed).")
@click.option("--jobs", type=click.IntRange(1), default=2, show_default=True,
              help="Processes for feature extraction.")
def pick_weights(exp_dirs, manifest, out_file, which, speeds, grid, own_grid, own_weight_grid,
                 order_seed, jobs):
    """Choose the weights w_m of the product of experts sum_m w_m E_m / sigma_m
    (asr.recognition.ensemble) that recognize the most utterances of MANIFEST, each utterance on its
    own (strict: no statistics from the speaker's other recordings), and write them to --out; pass
    them to asr eval / asr recognize as --weight, one per --exp, in the same order.

    With --own-exemplars, the online system is then chosen on the same utterances met online,
    with those weights: online CMVN state or not (asr eval --no-cmvn-state), own-exemplar expert
    (K and weight) or not; the choice is under "online" in --out."""
    import json
    import os
    from pathlib import Path

    from asr.inference import experts_energies
    from asr.recognition.ensemble import ensemble_accuracy, pick_weights

    if len(exp_dirs) < 2:
        raise click.UsageError("give two or more --exp (the experts to weigh)")
    candidates = _numbers(grid, "--grid", float)
    if not candidates or min(candidates) < 0 or max(candidates) <= 0:
        raise click.BadParameter("needs non-negative numbers, one of them > 0",
                                 param_hint="--grid")
    if own_grid is None and order_seed is not None:
        raise click.UsageError("--order-seed needs --own-exemplars")
    if own_grid is not None:
        own_candidates = _numbers(own_grid, "--own-exemplars", int)
        own_weights = _numbers(own_weight_grid, "--own-weights", float)
        if not own_candidates or min(own_candidates) < 1:
            raise click.BadParameter("needs positive integers", param_hint="--own-exemplars")
        if not own_weights or min(own_weights) <= 0:
            raise click.BadParameter("needs positive numbers", param_hint="--own-weights")
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
    if own_grid is not None:
        result["online"] = _pick_own(exp_dirs, manifest, which, speeds, weights, energies,
                                     own_candidates, own_weights, order_seed, jobs)
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
    if own_grid is not None:
        online = result["online"]
        chosen = ("no own exemplars" if online["own_exemplars"] is None else
                  f"own exemplars K={online['own_exemplars']}, weight {online['own_weight']:g}")
        state = "online CMVN" if online["cmvn_state"] else "each utterance normalized alone"
        click.echo(f"online: {100 * online['plain_accuracy']:.1f}% with online CMVN alone, "
                   f"{100 * online['accuracy']:.1f}% with the choice ({state}, {chosen})")


def _numbers(text, hint, kind):
    try:
        return sorted({kind(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter(f"{text!r}: comma-separated numbers", param_hint=hint) from None


def _pick_own(exp_dirs, manifest, which, speeds, weights, strict_energies, candidates,
              own_weights, order_seed, jobs):
    """The online system of best accuracy on MANIFEST met online: normalization by the online
    CMVN state or each utterance on its own (``cmvn_state``), with the own-exemplar expert (K,
    weight) or without it. Ties go to the CMVN state, then to no own exemplars, then to the
    smaller K and weight."""
    from asr.commands.evaluate import online_settings, own_features
    from asr.inference import experts_energies
    from asr.recognition.adapt import own_exemplar_energies
    from asr.recognition.ensemble import combine_energies

    settings = online_settings(manifest, order_seed, None)
    online_energies, labels, utterances, configs, _ = experts_energies(
        exp_dirs, manifest, which=which, jobs=jobs, speeds=sorted(set(speeds)), online=settings)
    features = own_features(utterances, configs, manifest, jobs)
    speakers = [u.speaker for u in utterances]

    def accuracy(e):
        return float((e.argmin(dim=1) == labels).float().mean())

    tried, best = [], None
    for cmvn_state, energies in ((True, online_energies), (False, strict_energies)):
        combined = combine_energies(energies, weights)
        trials = [(None, None, combined)]
        for k in candidates:
            own = own_exemplar_energies(features, speakers, combined, settings["order"], k)
            trials += [(k, w, combine_energies([combined, own], [1.0, w])) for w in own_weights]
        for k, w, e in trials:
            tried.append({"cmvn_state": cmvn_state, "own_exemplars": k, "own_weight": w,
                          "accuracy": accuracy(e)})
            if best is None or tried[-1]["accuracy"] > best["accuracy"]:
                best = tried[-1]
    return {**best, "plain_accuracy": tried[0]["accuracy"], "order_seed": order_seed,
            "tried": tried}
