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


def long_asr_stream(folder: Path) -> tuple[dict, np.ndarray]:
    """One 125-135 s demo ASR stream (seed 8, over 300 chunks): past position 2048, the 4096 block and
    the released server's 1500-position reset. Without hesitations: the stream the golden decisions of
    test_audio_interaction.py were recorded on, before phenomena existed."""
    from streamaudio.plan.scenarios import ScenarioConfig
    from streamaudio.plan.spec import single
    from streamaudio.write.build import build

    out = folder / "asr"
    config = ScenarioConfig(stream_seconds=(125.0, 135.0), phenomena=(("hesitation", 0.0),))
    build(single("asr", out, streams=1, seed=8, config=config))
    meta, audio, _ = next(iter(read_shard(out / "shards" / "asr-train-000000.tar").values()))
    return meta, audio


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
