"""``asr prepare CORPUS DATA_DIR --out OUT_DIR``: write train/valid/test JSONL manifests."""

from pathlib import Path

import click

from asr.errors import DataError

DATA_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
OUT_DIR = click.Path(file_okay=False, path_type=Path)
FRACTION = click.FloatRange(0.0, 1.0, max_open=True)


class CorpusGroup(click.Group):
    """A group whose unknown subcommand is reported as an unknown corpus, in one line."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise DataError(f"unknown corpus {name!r} for `asr {ctx.info_name}` "
                            f"(known: {', '.join(self.list_commands(ctx))})")
        return super().resolve_command(ctx, args)


@click.group(cls=CorpusGroup)
def prepare():
    """Scan a corpus and write OUT_DIR/{train,valid,test}.jsonl manifests."""


def _finish(splits, out: Path) -> None:
    from asr.corpora.splits import summary_table, write_splits

    paths = write_splits(out, splits)
    click.echo(summary_table(splits))
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")


@prepare.command("fsdd", short_help="Free Spoken Digit Dataset ({digit}_{speaker}_{take}.wav).")
@click.argument("data_dir", type=DATA_DIR)
@click.option("--out", "out", type=OUT_DIR, required=True, help="Folder of the manifests.")
@click.option("--test-speakers", default=None,
              help="Comma-separated speakers put entirely in test (speaker-independent split); "
                   "default: the standard split, takes 0-4 test.")
@click.option("--valid-fraction", type=FRACTION, default=0.1, show_default=True,
              help="Fraction of the training takes (the highest ones) kept for validation.")
@click.option("--valid-speakers", default=None,
              help="Comma-separated speakers put entirely in validation (with --test-speakers; "
                   "replaces --valid-fraction): settings are then chosen on an unheard voice.")
def fsdd(data_dir, out, test_speakers, valid_fraction, valid_speakers):
    """Free Spoken Digit Dataset: DATA_DIR/recordings/{digit}_{speaker}_{take}.wav.

    DATA_DIR may be the corpus root or its recordings/ folder.
    """
    from asr.corpora import fsdd as corpus

    _finish(corpus.prepare(data_dir, test_speakers, valid_fraction, valid_speakers), out)


@prepare.command("speech-commands",
                  short_help="Speech Commands (<word>/<speaker>_nohash_<n>.wav, split lists).")
@click.argument("data_dir", type=DATA_DIR)
@click.option("--out", "out", type=OUT_DIR, required=True, help="Folder of the manifests.")
@click.option("--words", default=None,
              help="Comma-separated words to keep (default: every word folder).")
def speech_commands(data_dir, out, words):
    """Speech Commands: DATA_DIR/<word>/<speaker>_nohash_<n>.wav, split by the corpus's
    validation_list.txt and testing_list.txt."""
    from asr.corpora import speech_commands as corpus

    _finish(corpus.prepare(data_dir, words), out)


@prepare.command("arabic-speech-commands",
                  short_help="Arabic Speech Commands (<word>/<speaker>_NO_<take>.wav|flac).")
@click.argument("data_dir", type=DATA_DIR)
@click.option("--out", "out", type=OUT_DIR, required=True, help="Folder of the manifests.")
def arabic_speech_commands(data_dir, out):
    """Arabic Speech Commands: DATA_DIR/[dataset/]<word>/<speaker>_NO_<take>.{wav,flac}, split
    by the official train.csv/val.csv/test.csv when present, else by the official speaker lists.
    """
    from asr.corpora import arabic_speech_commands as corpus

    splits = corpus.prepare(data_dir)
    _finish(splits, out)
    if not splits["test"]:
        click.echo("note: no official test speaker in DATA_DIR, test.jsonl is empty "
                   "(a full download has them)")


@prepare.command("folder", short_help="Any <word>/<file>.wav corpus, split by speaker.")
@click.argument("data_dir", type=DATA_DIR)
@click.option("--out", "out", type=OUT_DIR, required=True, help="Folder of the manifests.")
@click.option("--speaker-regex", default=r"^([^_]+)_", show_default=True,
              help="Regex on the file name (no extension); its first group (or whole match) "
                   "is the speaker.")
@click.option("--test-speakers", default=None,
              help="Comma-separated test speakers (default: drawn by --test-fraction).")
@click.option("--test-fraction", type=FRACTION, default=0.2, show_default=True,
              help="Fraction of the speakers drawn (deterministically) for test.")
@click.option("--valid-fraction", type=FRACTION, default=0.1, show_default=True,
              help="Fraction of the remaining speakers drawn for validation.")
def folder(data_dir, out, speaker_regex, test_speakers, test_fraction, valid_fraction):
    """Any corpus laid out as DATA_DIR/<word>/<file>.wav, split by speaker."""
    from asr.corpora import folder as corpus

    splits = corpus.prepare(data_dir, speaker_regex, test_speakers, test_fraction, valid_fraction)
    _finish(splits, out)


@prepare.command("with-fillers",
                 short_help="Keyword manifests plus a <filler> class of other speech.")
@click.argument("data_dir", type=DATA_DIR)
@click.option("--fillers", "fillers", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Manifest of non-keyword clips (e.g. the train split of another corpus).")
@click.option("--out", "out", type=OUT_DIR, required=True, help="Folder of the manifests.")
@click.option("--train", "n_train", type=click.IntRange(1), default=1800, show_default=True,
              help="Filler clips added to train.jsonl.")
@click.option("--valid", "n_valid", type=click.IntRange(0), default=200, show_default=True,
              help="Other filler clips added to valid.jsonl.")
@click.option("--seed", type=int, default=0, show_default=True)
def with_fillers(data_dir, fillers, out, n_train, n_valid, seed):
    """DATA_DIR's {train,valid,test}.jsonl with clips of FILLERS, labelled <filler>, added to
    train and valid (asr.corpora.fillers): the spotter's non-keyword class."""
    from asr.corpora import read_manifest
    from asr.corpora.fillers import with_fillers as add

    splits = {s: read_manifest(Path(data_dir) / f"{s}.jsonl", allow_empty=s != "train")
              for s in ("train", "valid", "test")}
    _finish(add(splits, read_manifest(fillers), n_train, n_valid, seed), out)
