"""The TTS engine interface: what an engine is asked to say and what it gives back.

An engine (built in, or registered by another package under the ``streamaudio.tts`` entry-point group)
is a class with a ``name``, a ``version``, default ``voices`` and ``prosody`` ranges, and two methods.
It is made once per process with the engine options as keyword arguments (``--url`` and ``--model`` of
the ``openai`` engine, say), so a model is loaded once per worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from streamaudio.errors import StreamAudioError


class TTSError(StreamAudioError):
    """A voice or language the engine cannot speak, or a failed synthesis; ``reason`` is its reject code
    (``engine_error``, ``empty_text``, ``unspeakable``, ``silent``)."""

    def __init__(self, message: str, reason: str = "engine_error") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Utterance:
    """One thing to say. ``prosody`` holds the values drawn for it from the voice's ranges (names are the
    engine's own, e.g. Piper's ``length_scale``); ``seed`` makes an engine with randomness repeatable."""

    text: str
    voice: str
    speaker: str | None = None
    prosody: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    language: str | None = None


class TTSEngine(Protocol):
    """Speaks an utterance; returns mono float32 audio in [-1, 1] and its sample rate."""

    name: str
    version: str  # part of every clip's content key: change it when the engine's output changes
    voices: tuple[str, ...]  # the voices used when none is given (they must work offline)
    prosody: dict[str, tuple[float, float]]  # default ranges drawn per utterance

    def speak(self, utterance: Utterance) -> tuple[np.ndarray, int]: ...

    def voice_for_language(self, language: str) -> str: ...

    # optional: ``check(voice, speaker)`` raises TTSError for a voice or speaker the engine does not have,
    # so that a build or synthesize run stops before it starts rather than rejecting every clip
