"""``asr spot`` and ``asr calibrate``: keywords in long recordings, and their thresholds."""

import click

FORMATS = ["table", "json", "ctm"]


def _words(text):
    return [w.strip() for w in text.split(",") if w.strip()] if text else None


@click.command("spot")
@click.option("--exp", "exp_dir", required=True, help="Experiment directory written by asr train.",
              type=click.Path(exists=True, file_okay=False))
@click.argument("files", nargs=-1, required=True)
@click.option("--words", default=None, help="Comma-separated words to spot [default: all].")
@click.option("--threshold", type=float, default=None,
              help="One score threshold for every word (default: the calibrated ones).")
@click.option("--false-alarms-per-hour", "rate", type=click.FloatRange(0), default=None,
              help="Thresholds for this rate from the calibration's negative scores.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--score-norm", type=click.Choice(["none", "background", "competitor"]),
              default=None, help="Score normalization (asr.spotting.engine) [default: the "
              "calibration's, else background].")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="PNG of the score tracks over the waveform and features (one FILE only).")
@click.option("--verify/--no-verify", default=None,
              help="Re-decide each candidate on the speech around it with the closed-set "
              "energies (asr.spotting.verify) [default: as calibrated, else verify].")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--block", type=click.IntRange(1), default=4, show_default=True,
              help="Feature frames per step of the engine: 4 as asr listen (the same hits "
              "exactly); larger is faster on long files (hits equal up to float rounding).")
def spot(exp_dir, files, words, threshold, rate, fmt, score_norm, verify, plot_path, which,
         block):
    """Find every occurrence of the vocabulary's words in each long recording FILE.

    Subsequence DTW of every template over the TDNN output stream (free start and end),
    suppression across words and time, then each candidate re-decided on the speech around it
    by the recognizer's closed-set energies; each hit has word, start and end (s), score
    (lower is better: the energy margin to the next word, or with --no-verify the match's mean
    local cost) and margin. Thresholds come from asr calibrate unless --threshold
    is given. A file that fails gets a one-line error; the exit status is then 1."""
    import numpy as np

    from asr.errors import AsrError
    from asr.spotting.calibrate import (
        load_spotting,
        resolve_score_norm,
        resolve_thresholds,
        resolve_verify,
    )
    from asr.spotting.engine import Spotter, keywords_of
    from asr.spotting.output import format_hits

    if threshold is not None and rate is not None:
        raise click.UsageError("give --threshold or --false-alarms-per-hour, not both")
    if plot_path and len(files) != 1:
        raise click.UsageError("--plot draws one file: give exactly one FILE")
    recognizer, config, record = load_spotting(exp_dir, which)
    chosen = _words(words) or keywords_of(recognizer.words)
    norm = resolve_score_norm(record, score_norm, threshold is not None)
    verify = resolve_verify(record, verify, threshold is not None)
    Spotter(recognizer, config.frontend, words=chosen)  # checks the words before any file
    thresholds = resolve_thresholds(recognizer, record, chosen, threshold, rate)
    failed = 0
    for path in files:
        try:
            spotter, wave, features = _run(recognizer, config, path, chosen, thresholds,
                                           plot_path, block, norm, verify)
        except AsrError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        hits = spotter.hits
        text = format_hits(hits, fmt, source=path)
        if fmt == "table" and len(files) > 1:
            click.echo(f"# {path}")
        if text:
            click.echo(text)
        if plot_path:
            from asr.spotting.plot import plot_spotting

            plot_spotting(plot_path, wave, config.frontend.sample_rate, features,
                          config.frontend.hop_seconds, np.concatenate(spotter.tracks),
                          spotter.frame_seconds, chosen, hits,
                          # verified thresholds are on the energy margin, not these tracks
                          thresholds=None if verify else spotter.thresholds,
                          title=f"{path}: {len(hits)} hit(s)")
    if failed:
        raise SystemExit(1)


def _run(recognizer, config, path, words, thresholds, plot, block, score_norm="none",
         verify=True):
    """Spot one file; returns the spotter (hits in ``.hits``), the waveform and, for the
    picture, the feature frames."""
    from asr.features import load_audio
    from asr.spotting.engine import Spotter

    spotter = Spotter(recognizer, config.frontend, words=words, thresholds=thresholds,
                      record=bool(plot), block=block, score_norm=score_norm, verify=verify)
    wave = load_audio(path, config.frontend.sample_rate).numpy()
    spotter.hits = spotter.push(wave) + spotter.flush()
    features = None
    if plot:
        from asr.spotting.frontend import StreamFeatures

        sf = StreamFeatures(config.frontend)
        features = list(sf.push(wave, final=True))
    return spotter, wave, features


@click.command("calibrate")
@click.option("--exp", "exp_dir", required=True, help="Experiment directory to calibrate.",
              type=click.Path(exists=True, file_okay=False))
@click.argument("negatives", nargs=-1, required=True)
@click.option("--false-alarms-per-hour", "rate", type=click.FloatRange(0), default=5.0,
              show_default=True,
              help="Target false-alarm rate, all words together (each word: RATE / words).")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
@click.option("--block", type=click.IntRange(1), default=4, show_default=True,
              help="Feature frames per step of the engine (as asr spot --block).")
@click.option("--score-norm", type=click.Choice(["none", "background", "competitor"]),
              default="background", show_default=True,
              help="Score normalization (asr.spotting.engine), stored with the thresholds.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Thresholds for verified hits (asr.spotting.verify) or the first pass's.")
def calibrate(exp_dir, negatives, rate, which, block, score_norm, verify):
    """Set each word's spotting threshold for RATE false alarms per hour on NEGATIVES (audio
    files, or .jsonl manifests) that hold none of the keywords; written into EXP's checkpoint
    (previous version kept as .bak)."""
    from asr.spotting.calibrate import (
        calibration_record,
        load_spotting,
        negative_scores,
        negative_sources,
        save_spotting,
    )

    recognizer, config, _ = load_spotting(exp_dir, which)
    sources = negative_sources(negatives)
    scores, hours = negative_scores(recognizer, config.frontend, sources, block=block,
                                    score_norm=score_norm, verify=verify)
    record = calibration_record(scores, hours, rate, score_norm, verify)
    path = save_spotting(exp_dir, record, which)
    click.echo(f"{hours * 60:.1f} minutes of negatives ({len(sources)} file(s)); thresholds for "
               f"{rate:g} false alarms/hour ({score_norm} scores"
               f"{', verified' if verify else ''}) written to {path}:")
    for word, value in record["thresholds"].items():
        click.echo(f"  {word:<12}{value:>10.4f}  ({len(scores[word])} negative candidates)")
