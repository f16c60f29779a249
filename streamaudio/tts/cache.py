"""A disk cache of synthesized clips keyed by engine, engine version, voice and text."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from streamaudio.audio import RESAMPLE_QUALITY, to_pcm16
from streamaudio.tts.base import TTSEngine


def default_cache_dir() -> Path:
    """``$STREAMAUDIO_CACHE`` or ``$XDG_CACHE_HOME/streamaudio`` (``~/.cache/streamaudio``)."""
    if env := os.environ.get("STREAMAUDIO_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamaudio"


class CachedTTS:
    """Wraps an engine; clips are stored as .npy (int16) files written atomically."""

    def __init__(self, engine: TTSEngine, cache_dir: Path | None = None) -> None:
        self.engine = engine
        self.root = (cache_dir or default_cache_dir()) / "tts" / engine.name

    def key(self, text: str, voice: str) -> str:
        # the resampler is part of the key: engines speak at their own rate and clips are kept at 16 kHz
        spoken = f"{self.engine.name}\0{self.engine.version}\0{RESAMPLE_QUALITY}\0{voice}\0{text}"
        h = hashlib.sha256(spoken.encode())
        return h.hexdigest()[:32]

    def synthesize(self, text: str, voice: str) -> np.ndarray:
        key = self.key(text, voice)
        path = self.root / key[:2] / f"{key}.npy"
        if path.exists():
            try:
                return np.load(path).astype(np.float32) / 32768.0
            except (ValueError, OSError):
                path.unlink(missing_ok=True)  # a damaged entry is synthesized again
        audio = self.engine.synthesize(text, voice)
        pcm = to_pcm16(audio)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.save(f, pcm)
        os.replace(tmp, path)
        return pcm.astype(np.float32) / 32768.0
