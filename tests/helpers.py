"""What the tests share besides fixtures: reading a shard back, the capabilities."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import soundfile as sf

from streamaudio.plan.scenarios import SCENARIOS

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
