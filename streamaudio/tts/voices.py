"""Voice pools: a voice is an engine's voice and speaker, a speed warp and prosody ranges; each utterance
draws its prosody from the ranges, seeded by the voice and the text, so a text in a voice is one clip."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from streamaudio.render.audio import RESAMPLE_QUALITY
from streamaudio.tts.base import TTSError, Utterance

WARP_RANGE = (0.8, 1.25)


@dataclass(frozen=True)
class Voice:
    """One member of a voice pool.

    ``warp`` is Kaldi-style speed perturbation applied after synthesis (tempo, pitch and formants move
    together, as a shorter or longer vocal tract would), so one neural voice gives several talkers.
    ``prosody`` holds (name, low, high) ranges the engine's parameters are drawn from per utterance.
    """

    engine: str
    name: str
    speaker: str | None = None
    warp: float = 1.0
    prosody: tuple[tuple[str, float, float], ...] = ()

    @cached_property
    def id(self) -> str:
        """A short readable name: ``engine:voice[#speaker][~warp]`` (a voice file by its stem)."""
        name = Path(self.name).stem if self.name.endswith(".onnx") else self.name
        speaker = f"#{self.speaker}" if self.speaker is not None else ""
        warp = f"~{self.warp:g}" if self.warp != 1.0 else ""
        return f"{self.engine}:{name}{speaker}{warp}"

    def draw_prosody(self, text: str) -> dict[str, float]:
        """Prosody values for ``text``, drawn from the ranges (rounded to 3 decimals, so keys are stable)."""
        if not self.prosody:
            return {}
        seed = int.from_bytes(hashlib.sha256(f"{self.id}\0{text}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        return {name: round(float(rng.uniform(lo, hi)), 3) for name, lo, hi in self.prosody}

    def utterance(self, text: str, prosody: dict[str, float], language: str | None = None) -> Utterance:
        key = content_key(self, "", text, prosody)  # the seed does not depend on the engine's version
        return Utterance(text, self.name, self.speaker, prosody, int(key[:15], 16), language)

    def tts_field(self, text: str) -> dict[str, Any]:
        """What a clip's ``tts`` field records about how it was spoken."""
        out: dict[str, Any] = {"engine": self.engine, "voice": self.name, "id": self.id}
        if self.speaker is not None:
            out["speaker"] = self.speaker
        if self.warp != 1.0:
            out["warp"] = self.warp
        if prosody := self.draw_prosody(text):
            out["prosody"] = prosody
        return out

    @classmethod
    def from_tts_field(cls, tts: dict[str, Any]) -> Voice:
        """The voice a clip's ``tts`` field names (prosody is per utterance, so it is not part of it)."""
        speaker = tts.get("speaker")
        return cls(
            engine=tts.get("engine", "espeak-ng"),
            name=tts["voice"],
            speaker=None if speaker is None else str(speaker),
            warp=float(tts.get("warp", 1.0)),
        )


def content_key(voice: Voice, version: str, text: str, prosody: dict[str, float]) -> str:
    """The clip's address: engine, engine version, voice, speaker, warp, prosody, text and resampler."""
    spoken = [voice.engine, version, voice.name, voice.speaker, voice.warp, sorted(prosody.items()), text]
    data = json.dumps([*spoken, RESAMPLE_QUALITY], ensure_ascii=False).encode()
    return hashlib.sha256(data).hexdigest()[:32]


def parse_voice(spec: str, engine: str, prosody: dict[str, tuple[float, float]]) -> Voice:
    """``NAME[#SPEAKER]``: a voice name (or a Piper ``.onnx`` path) and an optional speaker."""
    name, _, speaker = spec.partition("#")
    if not name:
        raise TTSError(f"voice {spec!r}: expected NAME or NAME#SPEAKER")
    return Voice(
        engine, name, speaker or None, 1.0, tuple((k, lo, hi) for k, (lo, hi) in sorted(prosody.items()))
    )


def parse_prosody(specs: list[str]) -> dict[str, tuple[float, float]]:
    """``NAME=LOW:HIGH`` or ``NAME=VALUE`` items as ranges."""
    out: dict[str, tuple[float, float]] = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        lo, _, hi = value.partition(":")
        try:
            out[name.strip()] = (float(lo), float(hi or lo))
        except ValueError:
            raise TTSError(f"prosody {spec!r}: expected NAME=LOW:HIGH, e.g. length_scale=0.9:1.15") from None
        if not name.strip() or out[name.strip()][0] > out[name.strip()][1]:
            raise TTSError(f"prosody {spec!r}: expected NAME=LOW:HIGH with LOW <= HIGH")
    return out


def pool(
    engine: str,
    voices: list[str],
    prosody: dict[str, tuple[float, float]],
    warps: list[float],
) -> tuple[Voice, ...]:
    """Every voice at every warp."""
    for w in warps:
        if not WARP_RANGE[0] <= w <= WARP_RANGE[1]:
            raise TTSError(f"warp {w:g} is outside {WARP_RANGE[0]:g}..{WARP_RANGE[1]:g}")
    base = [parse_voice(v, engine, prosody) for v in voices]
    return tuple(Voice(v.engine, v.name, v.speaker, w, v.prosody) for v in base for w in warps)


@dataclass(frozen=True)
class VoiceChoice:
    """Which engine speaks a build's text and in which voices: empty fields take the engine's defaults."""

    engine: str = "espeak-ng"
    voices: tuple[str, ...] = ()
    prosody: tuple[tuple[str, float, float], ...] | None = None
    warps: tuple[float, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()  # the engine's keyword arguments (url, model…)

    def pool(self, language: str = "en") -> tuple[Voice, ...]:
        """The voice pool for text in ``language``."""
        from streamaudio.tts.registry import engine_class, get_engine

        cls = engine_class(self.engine)
        prosody = (
            dict(getattr(cls, "prosody", {}))
            if self.prosody is None
            else {k: (lo, hi) for k, lo, hi in self.prosody}
        )
        warps = list(self.warps or getattr(cls, "warps", (1.0,)))
        names = list(self.voices)
        if not names:
            default = tuple(getattr(cls, "voices", ()))
            english = language.lower().split("-")[0] == "en"
            names = (
                list(default)
                if english and default
                else [get_engine(self.engine).voice_for_language(language)]
            )
        voices = pool(self.engine, names, prosody, warps)
        engine = get_engine(self.engine)
        if hasattr(engine, "check"):  # engines that can tell a missing voice before speaking
            for name, speaker in dict.fromkeys((v.name, v.speaker) for v in voices):
                engine.check(name, speaker)
        return voices
