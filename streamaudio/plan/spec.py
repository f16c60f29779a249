"""What a build is asked for: its parts (a capability and split, sized by streams or hours, with sources
and a scenario config) and the options that shape its output."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from streamaudio.errors import StreamAudioError
from streamaudio.plan.scenarios import ScenarioConfig


class BuildError(StreamAudioError):
    """A build that cannot start or go on; the message is one line naming the problem."""


DEFAULT_STREAMS = 32  # a build of one capability that names no size
DEFAULT_CAPABILITY = "asr"


@dataclass(frozen=True)
class Part:
    """One capability and split of a build, sized by a stream count or by hours of audio."""

    capability: str
    split: str = "train"
    streams: int | None = None
    hours: float | None = None
    sources: tuple[tuple[str, Path], ...] = ()
    noise: tuple[Path, ...] = ()
    config: ScenarioConfig = field(default_factory=ScenarioConfig)

    @property
    def label(self) -> str:
        return f"{self.capability}-{self.split}"


@dataclass(frozen=True)
class BuildSpec:
    """Everything a build depends on."""

    out: Path
    parts: tuple[Part, ...]
    seed: int = 0
    workers: int = 1
    shard_streams: int = 64
    shard_mb: float = 512.0
    cache_dir: Path | None = None
    command: str = ""
    executor: str = "local"  # "local" (a process pool) or "dask"
    scheduler: str | None = None  # a Dask scheduler address; None starts a local cluster
    max_failed_clips: float = 0.01  # share of drawn clips that may fail (their streams are left out)
    decoded_cache: bool = False  # keep decoded non-WAV sources in the cache folder (render/decoded_cache.py)
    notes: tuple[str, ...] = ()  # what planning changed from what was asked (parts left out), in words

    @property
    def tts_options(self) -> dict[str, dict[str, Any]]:
        """Each TTS engine's options (``--url``, ``--model``…), for the processes that render."""
        return {p.config.tts.engine: dict(p.config.tts.options) for p in self.parts if p.config.tts}


def single(
    capability: str,
    out: Path,
    *,
    streams: int | None = DEFAULT_STREAMS,
    hours: float | None = None,
    split: str = "train",
    sources: tuple[tuple[str, Path], ...] = (),
    noise: tuple[Path, ...] = (),
    config: ScenarioConfig | None = None,
    **options: Any,
) -> BuildSpec:
    """A build of one capability and split: the shape of ``streamaudio build --capability X``; sized by
    ``hours`` when given, else by ``streams``."""
    config = replace(config or ScenarioConfig(), split=split)
    size = {"hours": hours} if hours is not None else {"streams": streams}
    part = Part(capability, split, sources=sources, noise=noise, config=config, **size)
    return BuildSpec(out, (part,), **options)
