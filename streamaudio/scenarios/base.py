"""What every scenario shares: its configuration, the clip pools, decks of clips, and noise draws."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
import yaml

from streamaudio.manifest import Clip
from streamaudio.plan import Background, NoiseSlice

SECONDS_PER_CHAR = 0.075  # rough speaking time of TTS text, only used to size plans


@dataclass(frozen=True)
class ScenarioConfig:
    """Knobs of a stream; ranges are (low, high) and drawn uniformly per stream or per gap."""

    stream_seconds: tuple[float, float] = (30.0, 90.0)
    gap_seconds: tuple[float, float] = (0.8, 2.4)
    snr_db: tuple[float, float] = (5.0, 20.0)
    background_prob: float = 0.8
    gap_snr_db: tuple[float, float] = (15.0, 30.0)
    speech_level_db: float = -26.0
    gain_jitter_db: float = 3.0
    reply_delay_chunks: int = 0
    language: str = "en"
    split: str = "train"
    tts_engine: str = "espeak-ng"


@dataclass
class Pools:
    """The clips a build draws from, by role; ``voices`` are TTS voices for spoken instructions."""

    speech: list[Clip] = field(default_factory=list)
    noise: list[Clip] = field(default_factory=list)
    voices: tuple[str, ...] = ()


class Deck:
    """Draws clips without replacement, reshuffling when the pool is used up; returns unused draws."""

    def __init__(self, clips: list[Clip], rng: np.random.Generator) -> None:
        if not clips:
            raise ValueError("cannot draw from an empty pool")
        self.clips = clips
        self.rng = rng
        self._order: list[int] = []

    def draw(self) -> Clip:
        if not self._order:
            self._order = self.rng.permutation(len(self.clips)).tolist()
        return self.clips[self._order.pop()]

    def put_back(self, clip: Clip) -> None:
        self._order.append(self.clips.index(clip))


def stream_seed(seed: int, index: int) -> int:
    """A per-stream seed that depends only on the build seed and the stream's index."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(lo if hi <= lo else rng.uniform(lo, hi))


@cache
def templates(name: str) -> dict[str, Any]:
    """A scenario's template file (``streamaudio/scenarios/<name>.yaml``)."""
    return yaml.safe_load(files("streamaudio.scenarios").joinpath(f"{name}.yaml").read_text(encoding="utf-8"))


def tts_clip(text: str, voice: str, language: str, engine: str) -> Clip:
    """A clip spoken by TTS at render time; its duration is an estimate until then."""
    digest = hashlib.sha1(f"{engine}\0{voice}\0{text}".encode()).hexdigest()[:12]
    return Clip(
        id=f"tts-{digest}",
        source="tts",
        duration=max(0.5, SECONDS_PER_CHAR * len(text)),
        text=text,
        language=language,
        speaker=voice.split("@")[0],
        tts={"engine": engine, "voice": voice},
    )


class NoiseDraws:
    """Gap fills and background beds drawn from the noise pool."""

    def __init__(self, noise: Deck | None, config: ScenarioConfig) -> None:
        self.noise = noise
        self.config = config

    def gap_fill(self, rng: np.random.Generator) -> NoiseSlice | None:
        if self.noise is None:
            return None
        level = self.config.speech_level_db - uniform(rng, self.config.gap_snr_db)
        return NoiseSlice(self.noise.draw(), float(rng.random()), level)

    def background(self, rng: np.random.Generator) -> Background | None:
        if self.noise is None or rng.random() >= self.config.background_prob:
            return None
        return Background(self.noise.draw(), float(rng.random()), uniform(rng, self.config.snr_db))
