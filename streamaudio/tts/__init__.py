"""Text-to-speech: engines behind one interface, voice pools, and a content-addressed store of clips."""

from streamaudio.tts.base import TTSEngine, TTSError, Utterance
from streamaudio.tts.cache import CachedTTS, default_cache_dir, render
from streamaudio.tts.espeak import EspeakEngine
from streamaudio.tts.registry import (
    ENTRY_POINT_GROUP,
    configure,
    engine_class,
    engine_names,
    get_engine,
    prosody_names,
    register,
)
from streamaudio.tts.voices import Voice, VoiceChoice, content_key, parse_prosody, pool

__all__ = [
    "ENTRY_POINT_GROUP",
    "CachedTTS",
    "EspeakEngine",
    "TTSEngine",
    "TTSError",
    "Utterance",
    "Voice",
    "VoiceChoice",
    "configure",
    "content_key",
    "default_cache_dir",
    "engine_class",
    "engine_names",
    "get_engine",
    "parse_prosody",
    "pool",
    "prosody_names",
    "register",
    "render",
]
