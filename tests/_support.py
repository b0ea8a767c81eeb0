"""Helpers shared by test modules (importable: tests/ is on pytest's pythonpath)."""

import io
import re
import tarfile
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` unless told otherwise."""

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start, wanted = 0, self.headers.get("Range")
        if wanted and server.mode != "ignore-range":
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted)[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.mode == "truncate":  # announce everything, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def tar_gz(members):
    """A .tar.gz of ``{name: bytes}``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def assert_one_line_error(result, *needles):
    """A CLI result that failed with exactly one line, ``Error: ...``, naming every needle."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def fsdd_utterances(recordings, words, speakers, takes):
    """Utterances of FSDD files ``{word}_{speaker}_{take}.wav`` in ``recordings``, word by word,
    then speaker by speaker, then take by take."""
    import soundfile

    from asr.corpora import Utterance

    out = []
    for word in words:
        for speaker in speakers:
            for take in takes:
                path = recordings / f"{word}_{speaker}_{take}.wav"
                out.append(Utterance(id=path.stem, path=path, word=word, speaker=speaker,
                                     duration=soundfile.info(path).duration))
    return out
