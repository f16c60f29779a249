"""Turn a clip manifest row into 16 kHz mono audio: decode a file, speak a text, or run a generator."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from streamaudio.prepare.manifest import Clip
from streamaudio.protocol import SAMPLE_RATE
from streamaudio.render import noise, sounds
from streamaudio.render.audio import (
    LENGTH_TOLERANCE,
    MIN_CLIP_SECONDS,
    MIN_SPEECH_SECONDS,
    AudioError,
    load_audio,
)
from streamaudio.render.decoded_cache import DecodedCache, needs_decoding
from streamaudio.tts import CachedTTS, TTSError, Voice
from streamaudio.tts.cache import default_cache_dir


class ClipLoader:
    """Loads clip audio with an LRU of decoded clips (noise beds and spoken prompts are reused often)."""

    def __init__(
        self, cache_dir: Path | None = None, max_cached_seconds: float = 600.0, decoded: bool = False
    ) -> None:
        self.cache_dir = cache_dir
        self.tts = CachedTTS(cache_dir)
        # with ``decoded``, sources that need a decoder are decoded once per machine (decoded_cache.py)
        self.decoded = DecodedCache(cache_dir or default_cache_dir()) if decoded else None
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._budget = int(max_cached_seconds * SAMPLE_RATE)
        self._held = 0

    def speak(self, text: str, voice: str, engine: str = "espeak-ng") -> np.ndarray:
        """``text`` in an engine's voice (by name), with the engine's default prosody."""
        return self.tts.synthesize(Voice(engine, voice), text, {})

    def load(self, clip: Clip, *, keep: bool = True) -> np.ndarray:
        """Audio of a clip; raises AudioError naming the clip when it cannot be had. With ``keep`` false it
        is not cached: for clips drawn from a deck, which come round again only after the whole pool, so
        that memory stays flat however large the corpus."""
        key = f"{clip.source}\0{clip.id}"
        if key in self._lru:
            self._lru.move_to_end(key)
            return self._lru[key]
        audio = self._load(clip)
        if keep and audio.size <= self._budget:
            self._lru[key] = audio
            self._held += audio.size
            while self._held > self._budget:
                _, old = self._lru.popitem(last=False)
                self._held -= old.size
        return audio

    def _load(self, clip: Clip) -> np.ndarray:
        if clip.path:
            duration = clip.duration if clip.offset or clip.segment else None
            expect = (clip.sample_rate, clip.channels)
            if self.decoded is not None and needs_decoding(clip.path):
                what = (clip.offset, duration, expect)
                audio = self.decoded.get(
                    clip.path, what, lambda: load_audio(clip.path, clip.offset, duration, expect)
                )
            else:
                audio = load_audio(clip.path, clip.offset, duration, expect)
            return _check_length(clip, audio)
        if clip.tts:
            try:
                return self.tts.speak_clip(clip.tts, clip.text or "", clip.language)
            except (TTSError, KeyError) as exc:
                raise AudioError(f"{clip.id}: TTS failed ({exc})", "tts_failed") from None
        if clip.generator:
            return self._generate(clip)
        raise AudioError(f"{clip.id}: clip has no audio source")

    def _generate(self, clip: Clip) -> np.ndarray:
        g = clip.generator or {}
        kind, seed = g.get("kind"), int(g.get("seed", 0))
        if kind == "coloured":
            return noise.coloured_noise(clip.duration, float(g["exponent"]), seed)
        if kind == "hum":
            return noise.mains_hum(clip.duration, float(g["base_hz"]), seed)
        if kind == "sound":
            return sounds.generate(str(g["sound"]), clip.duration, seed)
        if kind == "babble":
            talkers = [(t["text"], t["voice"]) for t in g["talkers"]]
            return noise.babble(clip.duration, talkers, self.speak, seed)
        raise AudioError(f"{clip.id}: unknown generator {kind!r}")


def _check_length(clip: Clip, audio: np.ndarray) -> np.ndarray:
    """The decoded audio, if its length is the row's (within tolerance) and long enough to be a clip."""
    seconds = audio.size / SAMPLE_RATE
    if seconds < (MIN_SPEECH_SECONDS if clip.text else MIN_CLIP_SECONDS):
        raise AudioError(f"{clip.path}: {seconds:.4f} s of audio", "too_short")
    slack, share = LENGTH_TOLERANCE
    if abs(seconds - clip.duration) > max(slack, share * clip.duration):
        detail = f"{clip.path}: {seconds:.2f} s decoded, its manifest row says {clip.duration:.2f} s"
        raise AudioError(detail, "length_mismatch")
    return audio
