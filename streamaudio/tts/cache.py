"""Spoken clips, content-addressed on disk: a FLAC per clip under ``<cache>/tts/ab/<key>.flac``, keyed by
engine, engine version, voice, speaker, warp, prosody and text, so a rerun or another corpus reuses it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio.protocol import SAMPLE_RATE
from streamaudio.render.audio import active_rms, to_mono_16k
from streamaudio.tts.base import TTSError
from streamaudio.tts.registry import get_engine
from streamaudio.tts.voices import Voice, content_key

PEAK = 10.0 ** (-1.0 / 20.0)  # speech louder than -1 dBFS is scaled down to it, so nothing clips
SILENT_RMS = 1e-3  # -60 dBFS over the active frames: the engine said nothing


def default_cache_dir() -> Path:
    """``$STREAMAUDIO_CACHE`` or ``$XDG_CACHE_HOME/streamaudio`` (``~/.cache/streamaudio``)."""
    if env := os.environ.get("STREAMAUDIO_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "streamaudio"


def render(voice: Voice, text: str, prosody: dict[str, float], language: str | None = None) -> np.ndarray:
    """Speak ``text`` in ``voice``: 16 kHz mono float32, warped, below -1 dBFS; TTSError if silent."""
    if not text.strip():
        raise TTSError("cannot speak empty text", "empty_text")
    audio, rate = get_engine(voice.engine).speak(voice.utterance(text, prosody, language))
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2):
        raise TTSError(
            f"{voice.engine}: expected audio as (samples,) or (samples, channels), got {audio.shape}"
        )
    audio = to_mono_16k(audio, round(rate * voice.warp))
    if not np.isfinite(audio).all():
        raise TTSError(f"{voice.engine} returned samples that are not finite for {text[:40]!r}")
    if audio.size < SAMPLE_RATE // 20 or active_rms(audio) < SILENT_RMS:
        raise TTSError(f"{voice.engine} returned silence for {text[:40]!r}", "silent")
    peak = float(np.abs(audio).max())
    return audio * np.float32(PEAK / peak) if peak > PEAK else audio


class CachedTTS:
    """Speaks through the content-addressed store; a damaged entry is spoken again."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.root = (cache_dir or default_cache_dir()) / "tts"

    def key(self, voice: Voice, text: str, prosody: dict[str, float]) -> str:
        return content_key(voice, get_engine(voice.engine).version, text, prosody)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.flac"

    def lookup(self, key: str) -> np.ndarray | None:
        """The clip's audio when the store has it (a damaged entry is removed)."""
        path = self.path(key)
        if path.exists():
            try:
                return sf.read(path, dtype="float32")[0]
            except (sf.LibsndfileError, RuntimeError, OSError):
                path.unlink(missing_ok=True)
        return None

    def synthesize(
        self, voice: Voice, text: str, prosody: dict[str, float], language: str | None = None
    ) -> np.ndarray:
        key = self.key(voice, text, prosody)
        audio = self.lookup(key)
        return self.store(key, render(voice, text, prosody, language)) if audio is None else audio

    def speak_clip(self, tts: dict[str, Any], text: str, language: str | None = None) -> np.ndarray:
        """A clip's audio from its ``tts`` field (voice and the prosody drawn for it)."""
        return self.synthesize(Voice.from_tts_field(tts), text, dict(tts.get("prosody") or {}), language)

    def store(self, key: str, audio: np.ndarray) -> np.ndarray:
        """Write the clip as 16-bit FLAC (atomically) and return the audio as it reads back."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16", format="FLAC")
        os.replace(tmp, path)
        return sf.read(path, dtype="float32")[0]
