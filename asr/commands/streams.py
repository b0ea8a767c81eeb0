"""``asr make-stream`` and ``asr score-spotting``: synthetic long recordings and their scores."""

import click


def _split(text):
    return [w.strip() for w in text.split(",") if w.strip()] if text else None


@click.command("make-stream")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output stem: writes OUT.wav, OUT.json (references) and OUT.ctm.")
@click.option("--keywords", default=None, help="Comma-separated keywords [default: all words].")
@click.option("--speakers", default=None, help="Comma-separated speakers to draw clips from.")
@click.option("--fillers", "fillers", multiple=True, type=click.Path(dir_okay=False),
              help="Manifest of non-keyword clips (e.g. another corpus); repeatable.")
@click.option("--keyword-fraction", type=click.FloatRange(0, 1, min_open=True), default=0.1,
              show_default=True, help="Share of the stream's time that is keywords.")
@click.option("--filler-fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share that is non-keyword speech (as far as there is some).")
@click.option("--clips", type=click.IntRange(1), default=None,
              help="Keyword clips in the stream [default: each clip of the manifest once].")
@click.option("--snr", type=float, default=20.0, show_default=True,
              help="Signal-to-noise ratio (dB) of the background noise.")
@click.option("--no-noise", is_flag=True, help="No background noise.")
@click.option("--keep-levels", is_flag=True,
              help="Keep the recordings' own levels (default: every clip scaled to the same "
                   "mean power, so that each is at --snr).")
@click.option("--rate", type=click.IntRange(1000), default=8000, show_default=True,
              help="Sample rate of the stream (Hz).")
@click.option("--seed", type=int, default=0, show_default=True)
def make_stream(manifest, out, keywords, speakers, fillers, keyword_fraction, filler_fraction,
                clips, snr, no_noise, keep_levels, rate, seed):
    """Build a long test recording from MANIFEST's clips: keywords and non-keywords of the
    chosen speakers in random order, pauses, coloured noise at --snr dB, and the reference
    times of every clip."""
    from asr.corpora import read_manifest
    from asr.errors import DataError
    from asr.spotting.streams import make_stream as build
    from asr.spotting.streams import write_stream

    utterances = read_manifest(manifest)
    chosen = _split(speakers)
    if chosen:
        unknown = sorted(set(chosen) - {u.speaker for u in utterances})
        if unknown:
            raise DataError(f"{manifest}: no speaker {', '.join(unknown)}")
        utterances = [u for u in utterances if u.speaker in chosen]
    words = _split(keywords)
    if words:
        missing = sorted(set(words) - {u.word for u in utterances})
        if missing:
            raise DataError(f"{manifest}: no clip of keyword(s) {', '.join(missing)}")
    extra = [u for f in fillers for u in read_manifest(f)]
    wave, refs = build(utterances, rate, keywords=words, fillers=extra, seed=seed,
                       keyword_fraction=keyword_fraction, filler_fraction=filler_fraction,
                       clips=clips, snr_db=None if no_noise else snr,
                       equal_levels=not keep_levels)
    settings = {"manifest": str(manifest), "keywords": words, "speakers": chosen,
                "fillers": list(fillers), "keyword_fraction": keyword_fraction,
                "filler_fraction": filler_fraction, "clips": clips,
                "snr_db": None if no_noise else snr, "equal_levels": not keep_levels,
                "seed": seed}
    info = write_stream(out, wave, rate, refs, settings)
    click.echo(f"{info['audio']}: {info['seconds'] / 60:.1f} minutes, {info['keywords']} "
               f"keywords ({100 * info['keyword_seconds'] / info['seconds']:.1f}% of the time), "
               f"{len(refs) - info['keywords']} other clips")


@click.command("score-spotting")
@click.option("--ref", "ref_path", required=True, type=click.Path(dir_okay=False),
              help="OUT.json written by asr make-stream.")
@click.argument("hits", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--names", default=None, help="Comma-separated system names, one per HITS file.")
@click.option("--words", default=None, help="Keywords to score [default: all keywords].")
@click.option("--rate", type=click.FloatRange(0), default=5.0, show_default=True,
              help="False alarms per hour at which the DET curve is read.")
@click.option("--collar", type=click.FloatRange(0), default=0.1, show_default=True,
              help="Seconds a hit may lie outside its reference.")
@click.option("--det", "det_path", type=click.Path(dir_okay=False), default=None,
              help="PNG of the DET curves.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Write the figures as JSON.")
def score_spotting(ref_path, hits, names, words, rate, collar, det_path, json_path):
    """Detection rate and false alarms per hour of each HITS file (JSON lines of asr spot
    --format json) against the references; the DET curve is read at --rate false alarms per
    hour (its threshold chosen on this stream: an oracle operating point)."""
    import json

    from asr.errors import DataError
    from asr.spotting.scoring import det_curve, detection_at, plot_det, score_hits
    from asr.spotting.streams import read_references

    references, seconds = read_references(ref_path)
    labels = _split(names) or [str(h) for h in hits]
    if len(labels) != len(hits):
        raise click.UsageError(f"--names gives {len(labels)} names for {len(hits)} HITS files")
    keywords = _split(words)
    rows, curves = {}, {}
    for label, path in zip(labels, hits, strict=True):
        try:
            with open(path) as handle:
                found = [json.loads(line) for line in handle if line.strip()]
            for h in found:
                _ = (h["word"], float(h["start"]), float(h["end"]), float(h["score"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{path}: not JSON lines of hits (asr spot --format json): "
                            f"{type(exc).__name__}") from None
        row = score_hits(found, references, seconds, keywords, collar)
        curves[label] = det_curve(found, references, seconds, keywords, collar)
        row[f"detection_at_{rate:g}_fa_per_hour"], row["threshold_at_rate"] = \
            detection_at(curves[label], rate)
        rows[label] = row
    click.echo(f"{'system':<24}{'keywords':>9}{'detection':>11}{'FA/hour':>9}"
               f"{f'det@{rate:g}FA/h':>13}")
    for label, row in rows.items():
        click.echo(f"{label:<24}{row['keywords']:>9}{100 * row['detection']:>10.1f}%"
                   f"{row['false_alarms_per_hour']:>9.1f}"
                   f"{100 * row[f'detection_at_{rate:g}_fa_per_hour']:>12.1f}%")
    click.echo(f"({seconds / 60:.1f} minutes of audio)")
    if det_path:
        plot_det(det_path, curves, rate=rate, title=f"{ref_path}")
    if json_path:
        with open(json_path, "w") as handle:
            json.dump({"references": str(ref_path), "seconds": seconds, "rate": rate,
                       "collar": collar, "systems": rows}, handle, indent=1)
