"""Stream plans: what a stream holds and how it should sound, decided before any audio is touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamaudio.prepare.manifest import Clip


@dataclass(frozen=True)
class NoiseSlice:
    """A slice of a noise clip, starting at ``offset`` (a fraction of its length), at ``level_db`` RMS."""

    clip: Clip
    offset: float
    level_db: float


@dataclass(frozen=True)
class Segment:
    """One foreground event, preceded by a gap filled with a noise-bed slice."""

    kind: str  # "instruction", "speech" or "sound"
    clip: Clip
    gap_before: float  # seconds; negative: starts that long before the previous event ends (overlap)
    gap_fill: NoiseSlice | None
    level_db: float  # target level of the clip in the stream, dBFS (active RMS for speech, RMS for sounds)
    respond: bool
    reply: str | None = None
    emotion: str = "normal"
    info: dict[str, Any] = field(default_factory=dict)  # extra fields for the event's JSON
    augment: tuple[tuple[str, dict[str, float]], ...] = ()  # (name, parameters), applied in order
    max_seconds: float | None = None  # sounds: the active part is cut to this long (faded out after it)
    reply_after_chunks: int = 0  # the reply comes this many chunks after the protocol's rule puts it

    @property
    def seconds(self) -> float:
        """How long the clip will sound, as far as planning knows (no audio is read to plan)."""
        return self.clip.duration if self.max_seconds is None else min(self.clip.duration, self.max_seconds)


@dataclass(frozen=True)
class Background:
    """Noise under the whole stream, at ``snr_db`` below the stream's active speech. The same three fields
    as ``NoiseSlice`` but not the same type: its level is relative to the speech, known only once the
    stream is mixed, where a gap bed's is absolute, so one cannot be passed where the other is meant."""

    clip: Clip
    offset: float
    snr_db: float


@dataclass(frozen=True)
class StreamPlan:
    """Everything needed to render one stream; pure data, picklable, no audio."""

    id: str
    capability: str
    split: str
    language: str
    seed: int
    segments: tuple[Segment, ...]
    tail_gap: float
    tail_fill: NoiseSlice | None
    background: Background | None
    reply_delay_chunks: int = 0
    min_seconds: float = 0.0  # the stream is never shorter: its tail gap is drawn out to reach it
    media: tuple[Segment, ...] = ()  # a TV or radio under the stream, one after the other, never answered

    @property
    def estimated_seconds(self) -> float:
        planned = self.tail_gap + sum(max(0.0, s.gap_before) + s.seconds for s in self.segments)
        return max(self.min_seconds, planned)

    @property
    def clip_count(self) -> int:
        """How many clips rendering it reads: events, their gap beds, the tail bed and the background."""
        fills = sum(s.gap_fill is not None for s in self.segments) + (self.tail_fill is not None)
        return len(self.segments) + fills + (self.background is not None) + len(self.media)
