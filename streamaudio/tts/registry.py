"""Engines by name: the built-in ones and those other packages register under the ``streamaudio.tts``
entry-point group (``[project.entry-points."streamaudio.tts"] NAME = "package.module:EngineClass"``)."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from streamaudio.tts.base import TTSEngine, TTSError

ENTRY_POINT_GROUP = "streamaudio.tts"
BUILT_IN = {
    "espeak-ng": "streamaudio.tts.espeak:EspeakEngine",
    "piper": "streamaudio.tts.piper:PiperEngine",
    "openai": "streamaudio.tts.openai:OpenAIEngine",
}
_OPTIONS: dict[str, dict[str, Any]] = {}  # engine name -> keyword arguments, set once per process
_REGISTERED: dict[str, type] = {}  # engines registered in this process (a notebook's, a test's)


def engine_names() -> list[str]:
    return sorted({*BUILT_IN, *_REGISTERED, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})


def register(engine: type) -> type:
    """Make an engine class known by its ``name`` in this process (forked workers inherit it); packages
    register through the entry-point group instead, which every process sees."""
    _REGISTERED[engine.name] = engine
    get_engine.cache_clear()
    return engine


def configure(options: dict[str, dict[str, Any]]) -> None:
    """Set the engines' options (``--url``, ``--model``…) for this process, before any engine is made."""
    _OPTIONS.clear()
    _OPTIONS.update(options)
    get_engine.cache_clear()


def engine_class(name: str) -> type:
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = BUILT_IN.get(name)
    if target is None:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not found:
            raise TTSError(f"unknown TTS engine {name!r}; known: {', '.join(engine_names())}")
        target = found[0].value
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        hint = f" (pip install 'streamaudio[{name}]')" if name in BUILT_IN else ""
        raise TTSError(f"TTS engine {name!r} cannot be loaded: {exc}{hint}") from None
    except AttributeError:
        raise TTSError(f"TTS engine {name!r}: {target} does not exist") from None


@cache
def get_engine(name: str = "espeak-ng") -> TTSEngine:
    """The process's instance of an engine (made once: engines that hold a model load it once)."""
    try:
        return engine_class(name)(**_OPTIONS.get(name, {}))
    except TypeError as exc:
        raise TTSError(f"TTS engine {name!r}: {exc}") from None


def prosody_names(name: str) -> tuple[str, ...]:
    """The prosody parameters an engine reads: its ``prosody_names``, else the names of its default ranges."""
    cls = engine_class(name)
    return tuple(getattr(cls, "prosody_names", ()) or cls.prosody)
