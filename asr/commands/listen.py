"""``asr listen``: spot keywords live, from the microphone or from 16-bit PCM on stdin."""

import click


@click.command("listen")
@click.option("--exp", "exp_dir", required=True, help="Experiment directory written by asr train.",
              type=click.Path(exists=True, file_okay=False))
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read raw 16-bit little-endian mono PCM from standard input.")
@click.option("--rate", type=click.IntRange(1), default=None,
              help="Sample rate of the stdin audio (must be the model's) [default: the model's].")
@click.option("--words", default=None, help="Comma-separated words to spot [default: all].")
@click.option("--threshold", type=float, default=None,
              help="One score threshold for every word (default: the calibrated ones).")
@click.option("--false-alarms-per-hour", "rate_fa", type=click.FloatRange(0), default=None,
              help="Thresholds for this rate from the calibration's negative scores.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ctm"]), default="table",
              show_default=True)
@click.option("--chunk-ms", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="Audio read per step (ms).")
@click.option("--device", default=None, help="Input device for sounddevice [default: system's].")
@click.option("--verify/--no-verify", default=None,
              help="Re-decide each candidate on the speech around it (asr.spotting.verify) "
              "[default: as calibrated, else verify].")
@click.option("--which", type=click.Choice(["best", "last"]), default="best", show_default=True)
def listen(exp_dir, from_stdin, rate, words, threshold, rate_fa, fmt, chunk_ms, verify, device,
           which):
    """Print each keyword hit as it is decided (within about 0.3 s of the word's end), from
    the microphone (optional package sounddevice) or, with --stdin, from raw PCM, e.g.
    ``sox in.wav -t raw -r 8000 -e signed -b 16 -c 1 - | asr listen --exp EXP --stdin``.
    The hits equal those of ``asr spot`` on the same audio."""
    import json

    from asr.errors import AsrError
    from asr.spotting.calibrate import (
        load_spotting,
        resolve_score_norm,
        resolve_thresholds,
        resolve_verify,
    )
    from asr.spotting.engine import Spotter, keywords_of
    from asr.spotting.listen import default_stdin, microphone_chunks, stdin_chunks
    from asr.spotting.listen import listen as run
    from asr.spotting.output import format_hits

    if threshold is not None and rate_fa is not None:
        raise click.UsageError("give --threshold or --false-alarms-per-hour, not both")
    recognizer, config, record = load_spotting(exp_dir, which)
    sample_rate = config.frontend.sample_rate
    if rate is not None and rate != sample_rate:
        raise AsrError(f"--rate {rate}: the model runs at {sample_rate} Hz; resample the input "
                       f"(e.g. sox ... -r {sample_rate}) or give --rate {sample_rate}")
    chosen = [w.strip() for w in words.split(",") if w.strip()] if words else None
    chosen = chosen or keywords_of(recognizer.words)
    thresholds = resolve_thresholds(recognizer, record, chosen, threshold, rate_fa)
    spotter = Spotter(recognizer, config.frontend, words=chosen, thresholds=thresholds,
                      score_norm=resolve_score_norm(record, None, threshold is not None),
                      verify=resolve_verify(record, verify, threshold is not None))
    chunk = max(1, sample_rate * chunk_ms // 1000)
    chunks = (stdin_chunks(default_stdin(), chunk) if from_stdin
              else microphone_chunks(sample_rate, chunk, device))
    if fmt == "table":
        click.echo(format_hits([], "table"))

    def emit(hit):
        if fmt == "json":
            text = json.dumps(hit.to_dict())
        else:
            text = format_hits([hit], fmt, source="stdin" if from_stdin else "mic")
            text = text.splitlines()[-1]
        click.echo(text)
        import sys

        sys.stdout.flush()

    run(spotter, chunks, emit)
