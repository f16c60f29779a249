"""espeak-ng, driven through ctypes from the library and voices that the espeakng-loader wheel ships.

espeak-ng keeps synthesis state in library statics (e.g. its pitch-flutter phase) that survive
``espeak_Terminate``, so the same text spoken twice in one process gives different samples. Each
utterance therefore gets a freshly loaded library (dlopen, speak, dlclose: about 5 ms), which makes
synthesis a pure function of text and voice, as byte-identical builds need.
"""

from __future__ import annotations

import _ctypes
import ctypes
import threading
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from streamaudio.render.audio import to_mono_16k
from streamaudio.tts.base import TTSError, Utterance

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_RATE = 1
_PITCH = 3
_RAND_SEED = 0
_DEFAULT_RATE = 175  # words per minute
_DEFAULT_PITCH = 50
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
_ALIASES = {"zh": "cmn", "zh-cn": "cmn", "zh-tw": "cmn", "no": "nb"}
_LOCK = threading.Lock()  # the library's state is process-wide


@cache
def _paths() -> tuple[str, Path]:
    import espeakng_loader

    return espeakng_loader.get_library_path(), Path(espeakng_loader.get_data_path())


@cache
def _languages() -> dict[str, str]:
    """Language voice names shipped with the data, lower-cased → as spelled."""
    return {p.name.lower(): p.name for p in (_paths()[1] / "lang").rglob("*") if p.is_file()}


def _speak(text: str, voice: str, rate: int, pitch: int) -> tuple[np.ndarray, int, str]:
    """Speak with a freshly loaded library; returns int16 samples, their rate and the library version."""
    lib_path, data_path = _paths()
    chunks: list[np.ndarray] = []

    def collect(wav: ctypes.POINTER(ctypes.c_short), n: int, _events: int) -> int:
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    callback = _CALLBACK(collect)
    with _LOCK:
        lib = ctypes.CDLL(lib_path)
        try:
            sample_rate = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), _INIT_DONT_EXIT
            )
            if sample_rate <= 0:
                raise TTSError("espeak-ng failed to initialise from the espeakng-loader wheel")
            lib.espeak_Info.restype = ctypes.c_char_p
            version = lib.espeak_Info(None).decode()
            lib.espeak_SetSynthCallback(callback)
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise TTSError(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(_RATE, rate, 0)
            lib.espeak_SetParameter(_PITCH, pitch, 0)
            lib.espeak_ng_SetRandSeed(ctypes.c_long(_RAND_SEED))
            data = text.encode("utf-8")
            status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            lib.espeak_Terminate()
        finally:
            _ctypes.dlclose(lib._handle)
    if status != 0 or not chunks:
        raise TTSError(f"espeak-ng could not speak {text[:40]!r} in voice {voice!r}")
    return np.concatenate(chunks), sample_rate, version


class EspeakEngine:
    """espeak-ng voices: ``<language>[+<variant>]``, e.g. ``en-us``, ``en-gb-x-rp+f3``, ``de``.

    A voice may carry speaking rate (words per minute) and pitch (0-100) as ``@rate,pitch``,
    e.g. ``en-us+m3@160,40``.
    """

    name = "espeak-ng"
    revision = 2  # bump when the way we drive the library changes its output (it keys the TTS cache)
    voices = (  # variants with speaking rate and pitch: the demo's six talkers
        "en-us+m3@165,45",
        "en-us+f3@160,60",
        "en+m1@170,40",
        "en-gb-x-rp+f2@150,55",
        "en-029+m5@155,50",
        "en-gb-scotland+f4@165,65",
    )
    prosody: ClassVar[dict[str, tuple[float, float]]] = {}  # rate and pitch are part of the voice name

    def __init__(self) -> None:
        self.version = f"{_version()}/r{self.revision}"

    def speak(self, utterance: Utterance) -> tuple[np.ndarray, int]:
        return self.synthesize(utterance.text, utterance.voice), 16000

    def synthesize(self, text: str, voice: str) -> np.ndarray:
        if not text.strip():
            raise TTSError("cannot speak empty text")
        name, _, params = voice.partition("@")
        rate, pitch = _DEFAULT_RATE, _DEFAULT_PITCH
        if params:
            try:
                values = [int(p) for p in params.split(",")]
            except ValueError:
                raise TTSError(f"voice {voice!r}: expected NAME@RATE,PITCH with whole numbers") from None
            rate, pitch = ([*values, pitch])[:2]
        pcm, sample_rate, _ = _speak(text, name, rate, pitch)
        return to_mono_16k(pcm.astype(np.float32) / 32768.0, sample_rate)

    def voice_for_language(self, language: str) -> str:
        """The espeak-ng voice name for a language code such as ``en``, ``de`` or ``zh-CN``."""
        code = _ALIASES.get(language.lower(), language.lower())
        for candidate in (code, code.split("-")[0]):
            if candidate in _languages():
                return candidate
        raise TTSError(f"espeak-ng speaks no language {language!r}")


@cache
def _version() -> str:
    """The library's version string; ``espeak_Info`` needs no initialisation, so nothing is spoken."""
    with _LOCK:
        lib = ctypes.CDLL(_paths()[0])
        try:
            lib.espeak_Info.restype = ctypes.c_char_p
            return lib.espeak_Info(None).decode()
        finally:
            _ctypes.dlclose(lib._handle)
