"""What the tests share besides fixtures: reading a shard back, the capabilities."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.use.view import ViewServer, make_server

CAPABILITIES = list(SCENARIOS)  # every registered capability


def read_shard(path: Path) -> dict[str, tuple[dict, np.ndarray, int]]:
    """key -> (meta, audio, sample rate) of every sample in a tar."""
    members: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path) as tar:
        for m in tar:
            key, _, ext = m.name.partition(".")
            members.setdefault(key, {})[ext] = tar.extractfile(m).read()
    out = {}
    for key, parts in members.items():
        audio, sr = sf.read(io.BytesIO(parts["flac"]), dtype="float32")
        out[key] = (json.loads(parts["json"]), audio, sr)
    return out


@contextmanager
def running(out: Path, report: Path | None = None) -> Iterator[ViewServer]:
    """The viewer serving ``out`` on a free port, in a thread, for the block."""
    server = make_server(out, "127.0.0.1", 0, report)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
