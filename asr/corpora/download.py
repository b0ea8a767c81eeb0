"""Download and unpack a corpus: resumable, checksum-verified, atomic.

A download goes to ``<archive>.part``; an interrupted one is resumed with an HTTP ``Range``
request on the next run (a server that ignores ``Range`` makes it start over). Only when the
byte count matches the announced size and the SHA-256 matches the published checksum (when one
is published) is the ``.part`` renamed to the archive, so a half-downloaded archive is never
taken for a whole one. The archive is unpacked into a temporary folder beside the target,
its layout checked, and the corpus folder renamed into place in one step.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from asr.errors import AsrError, DownloadError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """Where a corpus comes from and how to check it.

    Attributes
    ----------
    corpus : str
        Name used on the command line.
    url : str
        Official archive; overridden by the environment variable ``env`` or ``--url``.
    sha256 : str or None
        Published SHA-256 of that archive (None: nothing published to check against).
    size : int or None
        Published size in bytes.
    folder : str
        Name of the unpacked corpus folder inside the download directory.
    env : str
        Environment variable that overrides ``url`` (used by the offline tests).
    source_note : str
        Where the checksum is published.
    """

    corpus: str
    url: str
    sha256: str | None
    size: int | None
    folder: str
    env: str
    source_note: str = ""


SOURCES = {
    "fsdd": Source(
        corpus="fsdd",
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz",
        sha256="8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
        size=11975353,
        folder="fsdd",
        env="ASR_FSDD_URL",
        source_note="TensorFlow Datasets, spoken_digit/checksums.tsv (GitHub tag v1.0.9, "
                    "5 speakers, 2,500 recordings)",
    ),
    "speech-commands": Source(
        corpus="speech-commands",
        url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        size=2428923189,
        folder="speech_commands_v0.02",
        env="ASR_SPEECH_COMMANDS_URL",
        source_note="torchaudio.datasets.speechcommands and TensorFlow Datasets url_checksums",
    ),
    "arabic-speech-commands": Source(
        corpus="arabic-speech-commands",
        url="https://github.com/abdulkaderghandoura/arabic-speech-commands-dataset/archive/"
            "72f3438.tar.gz",
        sha256=None,
        size=None,
        folder="arabic_speech_commands",
        env="ASR_ARABIC_SPEECH_COMMANDS_URL",
        source_note="no published checksum (a GitHub archive of commit 72f3438; pass --sha256 "
                    "to pin one)",
    ),
}


def _progress(total: int | None, initial: int, name: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name,
                disable=not sys.stderr.isatty(), file=sys.stderr)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _total_from(resp, offset: int) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+)", resp.headers.get("Content-Range", ""))
    if match:
        return int(match[2])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest`` through ``dest.part``, resuming a previous partial download.

    Parameters
    ----------
    url : str
        http(s) or file URL.
    dest : path-like
        Final file; returned at once if it already exists (it only ever appears verified).
    sha256, size : optional
        Expected SHA-256 (hex) and byte count; a mismatch deletes the ``.part`` file.
    timeout : float
        Socket timeout (s).

    Raises
    ------
    DownloadError
        Unreachable server, HTTP error, interrupted transfer (the ``.part`` is kept: run again
        to resume), or a size/checksum mismatch.
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "asr-download/1"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    total: int | None = None
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                      timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the .part is whole
            total = offset
            resp = None
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot download ({reason})") from None
    if resp is not None:
        with resp:
            status = getattr(resp, "status", 200)
            resumed = offset > 0 and status == 206
            start = offset if resumed else 0
            total = _total_from(resp, start)
            written = start
            try:
                with part.open("ab" if resumed else "wb") as f, \
                        _progress(total, start, dest.name) as bar:
                    for block in iter(lambda: resp.read(CHUNK), b""):
                        f.write(block)
                        written += len(block)
                        bar.update(len(block))
            except (OSError, EOFError, ValueError, http.client.HTTPException) as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                raise DownloadError(
                    f"{url}: transfer interrupted after {written} bytes ({reason}); "
                    f"{part} kept, run the command again to resume"
                ) from None
    got = part.stat().st_size
    if total is not None and got < total:
        raise DownloadError(f"{url}: transfer stopped at {got} of {total} bytes; {part} kept, "
                            "run the command again to resume")
    if size is not None and got != size:
        part.unlink()
        raise DownloadError(f"{url}: got {got} bytes, the published size is {size} "
                            f"(deleted {part.name}; run again to download afresh)")
    if sha256:
        digest = sha256_of(part)
        if digest != sha256.lower():
            part.unlink()
            raise DownloadError(f"{url}: SHA-256 {digest} does not match the published "
                                f"{sha256} (deleted {part.name}; run again to download afresh)")
    os.replace(part, dest)
    return dest


def extract(
    archive: str | os.PathLike,
    dest_dir: str | os.PathLike,
    folder: str,
    check: Callable[[Path], object] | None = None,
) -> Path:
    """Unpack a tar(.gz/.bz2/.xz) or zip archive to ``dest_dir/folder``, atomically.

    The archive is unpacked into a temporary folder in ``dest_dir``; when it holds one
    top-level folder (as GitHub archives do) that folder is the corpus root, else the
    temporary folder itself is. ``check(root)`` may raise to reject a wrong layout; then the
    root is renamed to ``dest_dir/folder``. Tar members are filtered with
    ``tarfile``'s ``"data"`` filter (no absolute paths, links out of the tree or devices).
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    final = dest_dir / folder
    if final.exists():
        return final
    tmp = Path(tempfile.mkdtemp(dir=dest_dir, prefix=f".{folder}.extract-"))
    try:
        try:
            if zipfile.is_zipfile(archive):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tf:
                    tf.extractall(tmp, filter="data")
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
            archive.unlink(missing_ok=True)
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise DownloadError(f"{archive}: not a readable tar/zip archive ({reason}); "
                                "deleted it, run again to download afresh") from None
        entries = [p for p in tmp.iterdir() if not p.name.startswith(".")]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        if check is not None:
            try:
                check(root)
            except AsrError as exc:
                raise DownloadError(f"{archive}: unpacked, but not the expected corpus ({exc})") \
                    from None
        os.rename(root, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def archive_name(corpus: str, url: str) -> str:
    """File name of the downloaded archive: the corpus name plus the URL's file name."""
    base = Path(urlparse(url).path).name or "archive.tar.gz"
    return f"{corpus}-{base}"


def _layout_check(corpus: str) -> Callable[[Path], object]:
    if corpus == "fsdd":
        from asr.corpora.fsdd import recordings_dir

        return recordings_dir
    if corpus == "arabic-speech-commands":
        from asr.corpora.arabic_speech_commands import find_root

        return find_root

    def speech_commands(root: Path):
        from asr.corpora.speech_commands import LISTS, word_dirs
        from asr.errors import DataError

        if not word_dirs(root):
            raise DataError(f"no <word>/<speaker>_nohash_<n>.wav files in {root.name}")
        for name in LISTS.values():
            if not (root / name).is_file():
                raise DataError(f"{name} missing")

    return speech_commands


def download_corpus(
    corpus: str,
    dest_dir: str | os.PathLike,
    url: str | None = None,
    sha256: str | None = None,
    keep_archive: bool = True,
) -> Path:
    """Download, verify and unpack ``corpus`` into ``dest_dir/<folder>``; returns that folder.

    ``url`` (or the source's environment variable) replaces the official URL; the published
    checksum then no longer applies, and only ``sha256`` (if given) is checked.
    """
    from asr.errors import DataError

    if corpus not in SOURCES:
        raise DataError(f"unknown corpus {corpus!r} for `asr download` "
                        f"(known: {', '.join(SOURCES)})")
    source = SOURCES[corpus]
    dest_dir = Path(dest_dir)
    final = dest_dir / source.folder
    if final.exists():
        return final
    custom = url or os.environ.get(source.env)
    url = custom or source.url
    if sha256 is None and not custom:
        sha256 = source.sha256
    size = None if custom else source.size
    dest_dir.mkdir(parents=True, exist_ok=True)
    archive = download_file(url, dest_dir / archive_name(corpus, url), sha256=sha256, size=size)
    root = extract(archive, dest_dir, source.folder, check=_layout_check(corpus))
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return root
