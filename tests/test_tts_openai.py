"""The openai engine against real HTTP servers on 127.0.0.1 that answer in the OpenAI speech API's shape,
speaking with Piper: a good one, one that fails every other request (retried), and one that hangs
(timed out, rejected, and the stage goes on)."""

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from streamaudio.cli.main import app
from streamaudio.prepare.manifest import read_clips
from streamaudio.tts import Utterance, Voice, get_engine
from streamaudio.tts.openai import OpenAIEngine

runner = CliRunner()


class SpeechServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the hanging request to end

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: SpeechServer

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(body)
            n = len(self.server.requests)
        if self.path != "/v1/audio/speech":
            self.send_error(404)
            return
        if self.server.mode == "flaky" and n % 2 == 1:
            self.send_error(503, "busy")
            return
        if self.server.mode == "hang" and "slow" in body["input"]:
            time.sleep(3.0)
        audio, rate = get_engine("piper").speak(Utterance(body["input"], "joe", seed=len(body["input"])))
        out = io.BytesIO()
        fmt = {"wav": "WAV", "flac": "FLAC"}[body.get("response_format", "wav")]
        sf.write(out, audio, rate, format=fmt, subtype="PCM_16")
        data = out.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", f"audio/{body.get('response_format', 'wav')}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def serve() -> Iterator:
    servers: list[SpeechServer] = []

    def start(mode: str) -> SpeechServer:
        server = SpeechServer(mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_speaks_through_the_api_and_decodes_any_format(serve) -> None:
    server = serve("good")
    for fmt in ("wav", "flac"):
        engine = OpenAIEngine(url=server.url, model="cosyvoice", response_format=fmt)
        audio, rate = engine.speak(Utterance("Good morning to you.", "alloy", prosody={"speed": 1.1}))
        assert rate == 22050 and 0.8 < audio.size / rate < 3.0 and np.abs(audio).max() > 0.1
    assert server.requests[-1] == {
        "model": "cosyvoice",
        "input": "Good morning to you.",
        "voice": "alloy",
        "response_format": "flac",
        "speed": 1.1,
    }


def test_synthesize_with_retries_and_a_hanging_request(serve, tmp_path: Path) -> None:
    flaky, hanging = serve("flaky"), serve("hang")
    texts = tmp_path / "texts.jsonl"
    lines = ["The first thing to say.", "A slow answer never comes.", "The last thing to say."]
    rows = [
        {"id": f"t{i}", "source": "t", "duration": 1, "tts": {"voice": "x"}, "text": t}
        for i, t in enumerate(lines)
    ]
    texts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["synthesize", str(texts), "--engine", "openai", "--voice", "alloy", "--voice", "echo"]
    common += ["--concurrency", "3"]
    first = ["--url", flaky.url, "--cache-dir", str(tmp_path / "cache-a")]
    result = runner.invoke(app, [*common, *first, "--out", str(tmp_path / "a" / "speech.jsonl")])
    assert result.exit_code == 0, result.output
    clips = list(read_clips(tmp_path / "a" / "speech.jsonl"))
    assert len(clips) == 3 and "rejected: none" in result.output
    assert len(flaky.requests) >= 6  # every clip failed once (503) and came on the retry
    for clip in clips:
        info = sf.info(clip.path)
        assert (info.samplerate, info.channels) == (16000, 1) and clip.duration == info.frames / 16000
    assert {c.tts["voice"] for c in clips} <= {"alloy", "echo"}

    started = time.perf_counter()
    args = [
        "--url",
        hanging.url,
        "--cache-dir",
        str(tmp_path / "cache-b"),  # a fresh store: nothing from the first server is reused
        "--timeout",
        "0.5",
        "--retries",
        "1",
        "--out",
        str(tmp_path / "b" / "s.jsonl"),
    ]
    result = runner.invoke(app, [*common, *args])
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - started < 10
    assert len(list(read_clips(tmp_path / "b" / "s.jsonl"))) == 2  # the stage went on past the hang
    [reject] = [json.loads(x) for x in (tmp_path / "b" / "s.rejected.jsonl").read_text().splitlines()]
    assert reject["reason"] == "engine_error" and "no answer within 0.5 s, after 2 tries" in reject["detail"]
    assert reject["text"] == lines[1]


def test_errors_are_one_line(serve, tmp_path: Path) -> None:
    server = serve("good")
    engine = OpenAIEngine(url=server.url.replace("/v1", "") + "/nothing-here", retries=0)
    with pytest.raises(Exception, match="HTTP 404"):
        engine.speak(Utterance("Hello.", "alloy"))
    closed = OpenAIEngine(url="http://127.0.0.1:9", retries=1, timeout=1)
    with pytest.raises(Exception, match=r"cannot connect to http://127\.0\.0\.1:9/v1/audio/speech"):
        closed.speak(Utterance("Hello.", "alloy"))
    assert Voice("openai", "alloy").id == "openai:alloy"
