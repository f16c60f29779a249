"""The TTS engine interface."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class TTSError(Exception):
    """A voice or language the engine cannot speak, or a failed synthesis."""


class TTSEngine(Protocol):
    """Speaks text in a voice; returns 16 kHz mono float32 audio."""

    name: str
    version: str

    def synthesize(self, text: str, voice: str) -> np.ndarray: ...

    def voice_for_language(self, language: str) -> str: ...
