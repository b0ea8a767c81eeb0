"""``asr download CORPUS DIR``: fetch, verify and unpack a public corpus."""

import os
from pathlib import Path

import click

CORPORA = ("fsdd", "speech-commands", "arabic-speech-commands")
PREPARE_HINT = {c: c for c in CORPORA}


@click.command()
@click.argument("corpus", metavar="CORPUS")
@click.argument("dest_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("--url", default=None,
              help="Archive URL replacing the official one (also ASR_FSDD_URL / "
                   "ASR_SPEECH_COMMANDS_URL / ASR_ARABIC_SPEECH_COMMANDS_URL); the published "
                   "checksum then does not apply.")
@click.option("--sha256", default=None,
              help="Expected SHA-256 of the archive (default: the published one, if any).")
@click.option("--keep-archive/--remove-archive", default=True, show_default=True,
              help="Keep the downloaded archive after unpacking.")
def download(corpus, dest_dir, url, sha256, keep_archive):
    """Download CORPUS (fsdd, speech-commands or arabic-speech-commands) into DIR/<corpus folder>.

    Resumable (run again after an interruption) and atomic: the archive is verified before
    use, and the corpus folder appears only once fully unpacked.
    """
    from asr.corpora.download import SOURCES, archive_name, download_corpus, sha256_of

    root = download_corpus(corpus, dest_dir, url=url, sha256=sha256, keep_archive=keep_archive)
    click.echo(f"{corpus} ready in {root}")
    source = SOURCES.get(corpus)
    archive = Path(dest_dir) / archive_name(corpus, url or os.environ.get(source.env) or source.url)
    if sha256 is None and source.sha256 is None and archive.is_file():
        click.echo(f"note: {corpus} publishes no checksum; this archive's SHA-256 is "
                   f"{sha256_of(archive)} (give it to --sha256 to check a later download)")
    click.echo(f"next: asr prepare {PREPARE_HINT.get(corpus, corpus)} {root} --out data/"
               f"{SOURCES[corpus].folder}")
