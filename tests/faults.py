"""A generator of bad inputs for the fault-injection tests: audio files whose headers lie, manifests with
broken rows, damaged shards, and a client that probes the viewer."""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from recordings import librivox

GOOD_TEXT = "he was not an ill disposed young man"


def speech_wav(path: Path, index: int = 0) -> Path:
    """A real LibriVox utterance as 16 kHz 16-bit WAV."""
    audio, sr = sf.read(librivox()[index][0], dtype="int16")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, sr, subtype="PCM_16")
    return path


def lying_rate_wav(path: Path, rate: int = 1) -> Path:
    """A WAV of real speech whose header claims ``rate`` Hz."""
    speech_wav(path)
    data = bytearray(path.read_bytes())
    fmt = data.index(b"fmt ")
    struct.pack_into("<I", data, fmt + 12, rate)  # sample rate
    struct.pack_into("<I", data, fmt + 16, rate * 2)  # byte rate
    path.write_bytes(bytes(data))
    return path


def tiny_wav(path: Path, samples: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (np.random.default_rng(0).standard_normal(samples) * 0.1).astype(np.float32), 16000)
    return path


def row(path: Path | str, ident: str, **fields: Any) -> dict[str, Any]:
    """A speech row of a streamaudio manifest."""
    duration = fields.pop("duration", None)
    if duration is None:
        duration = sf.info(str(path)).duration
    return {
        "id": ident,
        "source": "lab",
        "duration": duration,
        "path": str(path),
        "text": GOOD_TEXT,
        **fields,
    }


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    """Rows as JSON lines; a str row is written as it is (a broken line), bytes as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for r in rows:
            if isinstance(r, bytes):
                f.write(r + b"\n")
            elif isinstance(r, str):
                f.write(r.encode() + b"\n")
            else:
                f.write(json.dumps(r).encode() + b"\n")
    return path


def good_speech(folder: Path, n: int = 5) -> list[dict[str, Any]]:
    """Rows of ``n`` real utterances (the LibriVox ones, each kept in its own file)."""
    count = len(librivox())
    return [row(speech_wav(folder / f"u{i}.wav", i % count), f"u{i}") for i in range(n)]


# -- damaged shards -----------------------------------------------------------------------------------


def members(tar: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(tar) as t:
        return [(m.name, t.extractfile(m).read()) for m in t if m.isfile()]


def write_tar(path: Path, items: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in items:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def wav_bytes(seconds: float = 1.0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(int(seconds * 16000), dtype=np.float32), 16000, format="WAV")
    return buf.getvalue()


# -- the viewer ---------------------------------------------------------------------------------------


def raw_request(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` as it is and read the whole answer (the server closes, or the time runs out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def get(port: int, path: str, host: str | None = None, extra: str = "") -> bytes:
    host = host or f"127.0.0.1:{port}"
    return raw_request(
        port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n".encode()
    )


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def flip_bytes(path: Path, at: int, count: int = 16) -> None:
    data = bytearray(path.read_bytes())
    for i in range(at, min(at + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def cli(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None):
    """``streamaudio ARGS`` as a user runs it."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "streamaudio.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
