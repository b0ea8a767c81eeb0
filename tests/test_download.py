"""``asr download``, offline: a local HTTP server on 127.0.0.1 serves small archives built here."""

import hashlib
import io
import re
import zipfile
from http.server import ThreadingHTTPServer

import pytest
from _support import Handler, assert_one_line_error, tar_gz
from click.testing import CliRunner

from asr.cli import main
from asr.corpora import read_manifest
from asr.corpora.download import SOURCES, download_file


@pytest.fixture(scope="module")
def fsdd_archive(fsdd_dir):
    """Like the GitHub archive: one top folder holding recordings/ (2 speakers x 2 digits x 3
    takes of real FSDD audio) and a README."""
    top = "free-spoken-digit-dataset-1.0.9"
    members = {f"{top}/README.md": b"# FSDD\n"}
    for speaker in ("george", "jackson"):
        for digit in (0, 1):
            for take in (0, 10, 11):
                name = f"{digit}_{speaker}_{take}.wav"
                members[f"{top}/recordings/{name}"] = (fsdd_dir / "recordings" / name).read_bytes()
    return tar_gz(members)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fsdd_download_verify_unpack_and_prepare(server, tmp_path, fsdd_archive):
    server.files["/fsdd.tar.gz"] = fsdd_archive
    dest = tmp_path / "corpora"
    result = run("download", "fsdd", dest, "--url", f"{server.url}/fsdd.tar.gz",
                 "--sha256", sha256(fsdd_archive))
    assert result.exit_code == 0, result.output
    assert f"fsdd ready in {dest / 'fsdd'}" in result.output
    assert leftovers(dest) == ["fsdd", "fsdd-fsdd.tar.gz"]  # no .part, no temporary folder
    assert len(list((dest / "fsdd" / "recordings").glob("*.wav"))) == 12
    assert (dest / "fsdd-fsdd.tar.gz").read_bytes() == fsdd_archive
    out = tmp_path / "data"
    assert run("prepare", "fsdd", dest / "fsdd", "--out", out).exit_code == 0
    assert len(read_manifest(out / "test.jsonl")) == 4
    assert len(read_manifest(out / "train.jsonl")) + len(read_manifest(out / "valid.jsonl")) == 8
    before = len(server.requests)
    again = run("download", "fsdd", dest, "--url", f"{server.url}/fsdd.tar.gz")
    assert again.exit_code == 0 and len(server.requests) == before  # already there


def test_url_from_the_environment_and_archive_removal(server, tmp_path, fsdd_archive):
    server.files["/mirror/v1.0.9.tar.gz"] = fsdd_archive
    dest = tmp_path / "corpora"
    result = run("download", "fsdd", dest, "--remove-archive",
                 env={"ASR_FSDD_URL": f"{server.url}/mirror/v1.0.9.tar.gz"})
    assert result.exit_code == 0, result.output
    assert server.requests == [("/mirror/v1.0.9.tar.gz", None)]
    assert leftovers(dest) == ["fsdd"]


def test_interrupted_download_is_kept_as_part_and_resumed(server, tmp_path, fsdd_archive):
    server.files["/fsdd.tar.gz"] = fsdd_archive
    dest = tmp_path / "corpora"
    url = f"{server.url}/fsdd.tar.gz"
    server.mode = "truncate"
    result = run("download", "fsdd", dest, "--url", url, "--sha256", sha256(fsdd_archive))
    assert_one_line_error(result, url, "run the command again to resume")
    part = dest / "fsdd-fsdd.tar.gz.part"
    assert leftovers(dest) == [part.name]  # never taken for a whole archive
    half = part.stat().st_size
    assert 0 < half < len(fsdd_archive)
    server.mode = "normal"
    result = run("download", "fsdd", dest, "--url", url, "--sha256", sha256(fsdd_archive))
    assert result.exit_code == 0, result.output
    assert server.requests[-1] == ("/fsdd.tar.gz", f"bytes={half}-")
    assert (dest / "fsdd-fsdd.tar.gz").read_bytes() == fsdd_archive
    assert (dest / "fsdd" / "recordings" / "1_jackson_11.wav").is_file()


def test_resume_when_the_server_ignores_range_starts_over(server, tmp_path, fsdd_archive):
    server.files["/f.tar.gz"] = fsdd_archive
    server.mode = "ignore-range"
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "f.tar.gz.part").write_bytes(b"garbage from another file")
    path = download_file(f"{server.url}/f.tar.gz", dest / "f.tar.gz", sha256=sha256(fsdd_archive))
    assert path.read_bytes() == fsdd_archive and leftovers(dest) == ["f.tar.gz"]


def test_complete_part_file_is_verified_without_refetching(server, tmp_path, fsdd_archive):
    server.files["/f.tar.gz"] = fsdd_archive
    (tmp_path / "f.tar.gz.part").write_bytes(fsdd_archive)
    path = download_file(f"{server.url}/f.tar.gz", tmp_path / "f.tar.gz",
                         sha256=sha256(fsdd_archive), size=len(fsdd_archive))
    assert path.read_bytes() == fsdd_archive
    assert server.requests == [("/f.tar.gz", f"bytes={len(fsdd_archive)}-")]  # answered 416


def test_checksum_mismatch_deletes_the_download(server, tmp_path, fsdd_archive):
    server.files["/fsdd.tar.gz"] = fsdd_archive
    dest = tmp_path / "corpora"
    result = run("download", "fsdd", dest, "--url", f"{server.url}/fsdd.tar.gz",
                 "--sha256", "0" * 64)
    assert_one_line_error(result, "SHA-256", "does not match", "0" * 64)
    assert leftovers(dest) == []


def test_http_errors_and_unreachable_servers(server, tmp_path):
    result = run("download", "speech-commands", tmp_path / "d", "--url", f"{server.url}/nope.tgz")
    assert_one_line_error(result, f"{server.url}/nope.tgz", "HTTP 404")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = closed.server_address[1]
    closed.server_close()
    result = run("download", "fsdd", tmp_path / "d", "--url", f"http://127.0.0.1:{port}/x.tgz")
    assert_one_line_error(result, "cannot download")


def test_not_an_archive_and_wrong_layout(server, tmp_path):
    server.files["/junk.tar.gz"] = b"<html>this is not an archive</html>" * 10
    dest = tmp_path / "corpora"
    result = run("download", "fsdd", dest, "--url", f"{server.url}/junk.tar.gz")
    assert_one_line_error(result, "fsdd-junk.tar.gz", "not a readable tar/zip archive")
    assert leftovers(dest) == []
    server.files["/other.tar.gz"] = tar_gz({"project/README.md": b"hello", "project/a.txt": b"x"})
    result = run("download", "fsdd", dest, "--url", f"{server.url}/other.tar.gz")
    assert_one_line_error(result, "not the expected corpus", "not an FSDD layout")
    assert leftovers(dest) == ["fsdd-other.tar.gz"]  # the archive is whole; nothing unpacked


def test_zip_archives_work_too(server, tmp_path, fsdd_dir):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("0_lucas_0.wav", "0_lucas_7.wav", "1_lucas_8.wav"):
            zf.writestr(f"fsdd-master/recordings/{name}",
                        (fsdd_dir / "recordings" / name).read_bytes())
    server.files["/master.zip"] = buf.getvalue()
    result = run("download", "fsdd", tmp_path, "--url", f"{server.url}/master.zip")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "fsdd" / "recordings").glob("*.wav"))) == 3


def test_speech_commands_download(server, tmp_path, speech_commands_dir):
    members = {}
    for word in ("yes", "no"):
        for f in sorted((speech_commands_dir / word).glob("*.wav")):
            members[f"./{word}/{f.name}"] = f.read_bytes()
    members["./_background_noise_/white_noise.wav"] = members[next(iter(members))]
    for name in ("testing_list.txt", "validation_list.txt"):
        members[f"./{name}"] = (speech_commands_dir / name).read_bytes()
    archive = tar_gz(members)
    server.files["/speech_commands_v0.02.tar.gz"] = archive
    dest = tmp_path / "corpora"
    result = run("download", "speech-commands", dest, "--url",
                 f"{server.url}/speech_commands_v0.02.tar.gz", "--sha256", sha256(archive))
    assert result.exit_code == 0, result.output
    root = dest / SOURCES["speech-commands"].folder
    assert root.is_dir() and (root / "_background_noise_").is_dir()
    out = tmp_path / "data"
    assert run("prepare", "speech-commands", root, "--out", out).exit_code == 0
    words = {u.word for split in ("train", "valid", "test")
             for u in read_manifest(out / f"{split}.jsonl", allow_empty=True)}
    assert words == {"yes", "no"}


def test_unknown_corpus(tmp_path):
    assert_one_line_error(run("download", "librispeech", tmp_path), "unknown corpus",
                          "librispeech", "fsdd, speech-commands")


def test_official_sources_carry_the_published_checksums():
    sc = SOURCES["speech-commands"]
    assert sc.url == "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
    for source in SOURCES.values():
        if source.sha256 is None:  # nothing published: the note says so, the CLI prints the hash
            assert "no published checksum" in source.source_note
            continue
        assert re.fullmatch(r"[0-9a-f]{64}", source.sha256) and source.size > 0
    assert "Jakobovski/free-spoken-digit-dataset" in SOURCES["fsdd"].url
