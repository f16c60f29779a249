"""The viewer's HTTP server (the standard library's): two pages, their scripts, JSON and the streams'
audio by byte range from the shards. Every name in a request is looked up (a stream key in the corpus's
index, a page or script in a fixed list); none is ever joined onto the file system."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from streamaudio.errors import StreamAudioError
from streamaudio.use.view.corpus import Corpus, StreamError

STATIC = {
    "corpus.html": "text/html; charset=utf-8",
    "stream.html": "text/html; charset=utf-8",
    "view.css": "text/css; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "corpus.js": "text/javascript; charset=utf-8",
    "stream.js": "text/javascript; charset=utf-8",
}
RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})$")  # more digits than any file has bytes: no range
COPY = 1 << 16


class ViewServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a page opens dozens of requests at once; the default backlog is 5

    def __init__(self, corpus: Corpus, address: tuple[str, int]) -> None:
        self.corpus = corpus
        super().__init__(address, Handler)
        host, port = self.server_address[:2]
        # what a Host header may say: on this machine's own address only its names (a page of another site
        # whose name was made to resolve here is refused); served to the network, any (the CLI warns)
        names = {host, "localhost", "127.0.0.1", "[::1]"}
        self.hosts = {f"{name}:{port}".lower() for name in names} if is_loopback(host) else None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class Handler(BaseHTTPRequestHandler):
    server: ViewServer
    protocol_version = "HTTP/1.1"
    timeout = 20  # seconds a connection may stay silent (a half-open one is closed, not kept forever)

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a page makes dozens of requests."""

    def _answer(self, head: bool) -> None:
        if not self._host_allowed():  # a page of another site whose name resolves here (DNS rebinding)
            self._send(HTTPStatus.MISDIRECTED_REQUEST, b"unknown host\n", "text/plain; charset=utf-8", head)
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):  # the browser let go
            try:
                self._route(head)
            except (StreamAudioError, OSError, ValueError) as exc:  # one stream's problem stays on it
                self.close_connection = True
                if not self._sent:
                    self._json_error(str(exc), head)

    def _host_allowed(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        return self.server.hosts is None or host in self.server.hosts

    def _json_error(self, message: str, head: bool) -> None:
        data = json.dumps({"error": message}, ensure_ascii=False).encode()
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, data, "application/json", head)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._sent = True
        super().send_response(code, message)

    def handle_one_request(self) -> None:
        self._sent = False
        super().handle_one_request()

    def _route(self, head: bool) -> None:
        corpus = self.server.corpus
        parts = [unquote(p) for p in urlsplit(self.path).path.split("/")[1:]]
        match parts:
            case [""]:
                self._static("corpus.html", head)
            case ["static", name] if name in STATIC:
                self._static(name, head)
            case ["stream", key] if key in corpus.by_key:
                self._static("stream.html", head)
            case ["api", "corpus"]:
                self._json(corpus.listing(), head)
            case ["api", "stats"]:
                self._json(corpus.stats(), head)
            case ["api", "stream", key] if key in corpus.by_key:
                self._json(corpus.stream(key), head)
            case ["api", "peaks", key] if key in corpus.by_key:
                try:
                    self._json(corpus.peaks(key), head)
                except StreamError as exc:
                    self._json({"error": str(exc)}, head)
            case ["audio", name] if name.endswith(".flac") and name[: -len(".flac")] in corpus.by_key:
                self._audio(name[: -len(".flac")], head)
            case ["audio", name] if name.endswith(".wav") and name[: -len(".wav")] in corpus.by_key:
                data = corpus.wav(name[: -len(".wav")])
                span = self._range(len(data), "audio/wav")
                if span is not None and not head:
                    self.wfile.write(data[span[0] : span[1] + 1])
            case _:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", head)

    def _range(self, size: int, kind: str) -> tuple[int, int] | None:
        """Send the headers of the byte range asked for (or the whole); the span to send, or None when
        the range cannot be satisfied (416 sent)."""
        start, end = 0, size - 1
        asked = RANGE.match(self.headers.get("Range", "").strip())
        if asked and (asked[1] or asked[2]):
            if asked[1]:
                start, end = int(asked[1]), min(int(asked[2]) if asked[2] else size - 1, size - 1)
            else:  # the last N bytes
                start = max(0, size - int(asked[2]))
            if start > end or start >= size:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(HTTPStatus.PARTIAL_CONTENT)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return start, end

    def _static(self, name: str, head: bool) -> None:
        data = files("streamaudio.use.view").joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, data, STATIC[name], head)

    def _json(self, value: Any, head: bool) -> None:
        data = json.dumps(value, ensure_ascii=False).encode()
        self._send(HTTPStatus.OK, data, "application/json", head)

    def _send(self, status: HTTPStatus, data: bytes, kind: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _audio(self, key: str, head: bool) -> None:
        """The stream's FLAC member, read from its tar, whole or the byte range asked for."""
        entry = self.server.corpus.entry(key)
        if "flac" not in entry.members:
            self._send(HTTPStatus.NOT_FOUND, b"no audio\n", "text/plain; charset=utf-8", head)
            return
        if entry.error:
            raise StreamError(entry.error)
        offset, size = entry.members["flac"]
        span = self._range(size, "audio/flac")
        if span is None or head:
            return
        start, end = span
        with open(entry.shard, "rb") as f:
            f.seek(offset + start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(COPY, left))
                if not chunk:  # the shard shrank since it was indexed: end the connection, never hang it
                    self.close_connection = True
                    break
                self.wfile.write(chunk)
                left -= len(chunk)


def is_loopback(host: str) -> bool:
    """Whether an address is this machine's own (only this machine can reach it)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def make_server(
    out: Path, host: str = "127.0.0.1", port: int = 8765, report: Path | None = None
) -> ViewServer:
    """A server for the corpus in ``out`` (its shards indexed, or their indexes read), not yet serving."""
    return ViewServer(Corpus(out, report), (host, port))


def serve(server: ViewServer, open_browser: bool = False) -> None:
    """Serve until Ctrl-C."""
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
