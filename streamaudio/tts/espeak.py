"""espeak-ng, driven through ctypes from the library and voices that the espeakng-loader wheel ships."""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

from streamaudio.audio import to_mono_16k
from streamaudio.tts.base import TTSError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE = 1
_PITCH = 3
_DEFAULT_RATE = 175  # words per minute
_DEFAULT_PITCH = 50
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_ALIASES = {"zh": "cmn", "zh-cn": "cmn", "zh-tw": "cmn", "yue": "yue", "nb": "nb", "no": "nb"}


class _Library:
    """The process-wide espeak-ng library: it holds global state, so one instance per process."""

    _instance: _Library | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.data_path = Path(espeakng_loader.get_data_path())
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(), _INIT_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise TTSError("espeak-ng failed to initialise from the espeakng-loader wheel")
        self.lib.espeak_Info.restype = ctypes.c_char_p
        self.version = self.lib.espeak_Info(None).decode()
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.languages = {
            p.name.lower(): p.name for p in (self.data_path / "lang").rglob("*") if p.is_file()
        }

    @classmethod
    def get(cls) -> _Library:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), n: int, _events: int) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def speak(self, text: str, voice: str, rate: int | None, pitch: int | None) -> np.ndarray:
        with self._lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise TTSError(f"espeak-ng has no voice {voice!r}")
            # parameters persist between calls, so always set both
            self.lib.espeak_SetParameter(_RATE, _DEFAULT_RATE if rate is None else rate, 0)
            self.lib.espeak_SetParameter(_PITCH, _DEFAULT_PITCH if pitch is None else pitch, 0)
            self._chunks = []
            data = text.encode("utf-8")
            status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != 0 or not chunks:
            raise TTSError(f"espeak-ng could not speak {text[:40]!r} in voice {voice!r}")
        return np.concatenate(chunks)


class EspeakEngine:
    """espeak-ng voices: ``<language>[+<variant>]``, e.g. ``en-us``, ``en-gb-x-rp+f3``, ``de``.

    A voice may carry speaking rate and pitch as ``@rate,pitch`` (``en-us+m3@160,40``).
    """

    name = "espeak-ng"

    def __init__(self) -> None:
        self._lib = _Library.get()
        self.version = self._lib.version

    def synthesize(self, text: str, voice: str) -> np.ndarray:
        if not text.strip():
            raise TTSError("cannot speak empty text")
        name, _, params = voice.partition("@")
        rate, pitch = (None, None)
        if params:
            parts = [int(p) for p in params.split(",")]
            rate, pitch = (parts + [None])[:2]
        pcm = self._lib.speak(text, name, rate, pitch)
        return to_mono_16k(pcm.astype(np.float32) / 32768.0, self._lib.sample_rate)

    def voice_for_language(self, language: str) -> str:
        """The espeak-ng voice name for a language code such as ``en``, ``de`` or ``zh-CN``."""
        code = language.lower()
        code = _ALIASES.get(code, code)
        for candidate in (code, code.split("-")[0]):
            if candidate in self._lib.languages:
                return candidate
        raise TTSError(f"espeak-ng speaks no language {language!r}")
