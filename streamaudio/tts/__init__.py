"""Text-to-speech engines behind one interface, with a disk cache of synthesized clips."""

from streamaudio.tts.base import TTSEngine, TTSError
from streamaudio.tts.cache import CachedTTS, default_cache_dir
from streamaudio.tts.espeak import EspeakEngine

ENGINES: dict[str, type] = {EspeakEngine.name: EspeakEngine}


def get_engine(name: str = "espeak-ng") -> TTSEngine:
    """Return an engine instance by name."""
    try:
        return ENGINES[name]()
    except KeyError:
        raise TTSError(f"unknown TTS engine {name!r}; known: {', '.join(sorted(ENGINES))}") from None


__all__ = ["ENGINES", "CachedTTS", "EspeakEngine", "TTSEngine", "TTSError", "default_cache_dir", "get_engine"]
